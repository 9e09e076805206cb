using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RaySharp.Testing;

/// <summary>
/// A <c>redis-server</c> process for tests, on a free loopback port, with no persistence (<c>--save ""</c>,
/// <c>--appendonly no</c>): what a GCS with Redis storage (<see cref="TestClusterOptions.GcsStorage"/>) points at.
/// <see cref="Start"/> returns once the server answers PING; <see cref="Dispose"/> kills it (so does the end of the
/// test process). Needs <c>redis-server</c> on PATH (<c>apt-get install -y redis-server</c>; <c>./test.sh</c> installs it).
/// </summary>
public sealed class RedisServer : IDisposable
{
    private const int MaxOutputLines = 50;
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly string _dir;
    private readonly Queue<string> _output = new();
    private readonly EventHandler _onExit;
    private int _disposed;

    private RedisServer(Process process, int port, string? password, string dir)
    {
        _process = process;
        Port = port;
        Password = password;
        _dir = dir;
        ProcessId = process.Id;
        _onExit = (_, _) => Stop();
        AppDomain.CurrentDomain.ProcessExit += _onExit;
        _process.OutputDataReceived += (_, e) => Remember(e.Data);
        _process.ErrorDataReceived += (_, e) => Remember(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; }

    /// <summary>The password clients must give, if the server was started with one.</summary>
    public string? Password { get; }

    /// <summary>The server's address for the GCS storage: <c>redis://127.0.0.1:PORT</c>, or
    /// <c>redis://:PASSWORD@127.0.0.1:PORT</c> when it has a password.</summary>
    public string Address => Password is null
        ? $"redis://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}"
        : $"redis://:{Uri.EscapeDataString(Password)}@127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The <c>redis-server</c> process ID.</summary>
    public int ProcessId { get; }

    /// <summary>True while the process runs.</summary>
    public bool IsRunning
    {
        get
        {
            try { return !_process.HasExited; }
            catch (InvalidOperationException) { return false; }
        }
    }

    /// <summary>The server's last lines of output (its log), for a failing test's message.</summary>
    public string Output
    {
        get { lock (_output) return string.Join('\n', _output); }
    }

    /// <summary>Starts <c>redis-server</c> on a free loopback port and waits until it answers PING; with a
    /// <paramref name="password"/>, clients must give it (<c>--requirepass</c>).</summary>
    /// <exception cref="InvalidOperationException"><c>redis-server</c> is not installed, or did not start.</exception>
    public static RedisServer Start(string? password = null)
    {
        string executable = FindOnPath("redis-server")
            ?? throw new InvalidOperationException(
                "redis-server is not on PATH: install it (as root: apt-get install -y redis-server; ./test.sh does this) to run the Redis tests.");
        Exception? last = null;
        // A port found free can be taken before redis-server binds it: then it exits at once and another port is tried.
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int port = FreeLoopbackPort();
            string dir = Directory.CreateTempSubdirectory("raysharp-redis-").FullName;
            var psi = new ProcessStartInfo(executable)
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = dir,
            };
            foreach (string arg in new[]
            {
                "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--dir", dir, "--logfile", "", "--databases", "1",
            })
                psi.ArgumentList.Add(arg);
            if (password is not null)
            {
                psi.ArgumentList.Add("--requirepass");
                psi.ArgumentList.Add(password);
            }
            var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start redis-server.");
            var server = new RedisServer(process, port, password, dir);
            try
            {
                server.WaitUntilReady();
                return server;
            }
            catch (Exception e)
            {
                last = e;
                server.Dispose();
            }
        }
        throw new InvalidOperationException($"redis-server did not start: {last?.Message}", last);
    }

    /// <summary>Kills the server at once (SIGKILL), as a crash would, and waits for the process to end.</summary>
    public void Kill()
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        KillProcess();
    }

    private void KillProcess()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Exiting as it was being killed.
        }
        _process.WaitForExit(10_000);
    }

    /// <summary>Kills the server and removes its directory.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        AppDomain.CurrentDomain.ProcessExit -= _onExit;
        Stop();
        _process.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => $"RedisServer({Address}, pid {ProcessId})";

    private void Stop()
    {
        KillProcess();
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private void WaitUntilReady()
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit(); // drains the output
                throw new InvalidOperationException($"redis-server exited with code {_process.ExitCode} on port {Port}: {Output}");
            }
            if (Ping()) return;
            if (deadline.Elapsed > s_startTimeout)
                throw new InvalidOperationException($"redis-server did not answer PING on port {Port} within {s_startTimeout.TotalSeconds:0} s: {Output}");
            Thread.Sleep(10);
        }
    }

    private bool Ping()
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.ReceiveTimeout = 1000;
            socket.SendTimeout = 1000;
            socket.Connect(IPAddress.Loopback, Port);
            socket.Send("PING\r\n"u8);
            var buffer = new byte[64];
            int n = socket.Receive(buffer);
            // A server with a password answers -NOAUTH: it is up all the same.
            string reply = Encoding.ASCII.GetString(buffer, 0, n);
            return reply.StartsWith("+PONG", StringComparison.Ordinal) || reply.StartsWith("-NOAUTH", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void Remember(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > MaxOutputLines) _output.Dequeue();
        }
    }

    private static int FreeLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
