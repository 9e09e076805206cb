using System.Diagnostics;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using Xunit;

namespace RaySharp.Dashboard.Tests;

/// <summary>
/// Debian's Chromium driven headless through its chromedriver (<c>apt-get install -y chromium chromium-driver</c>; ./test.sh
/// installs both when missing). Nothing is downloaded: the browser and driver paths are given, so Selenium Manager is not
/// asked. Disposing quits the browser and then ends, by process ID, any process still using this instance's own profile
/// directory, so no browser outlives a test, passed or failed.
/// </summary>
internal sealed class HeadlessChromium : IDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly string _profile = Path.Combine(Path.GetTempPath(), "raysharp-chromium-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly ChromeDriverService _service;

    public HeadlessChromium()
    {
        string browser = Environment.GetEnvironmentVariable("RAYSHARP_CHROMIUM") is { Length: > 0 } b ? b : "/usr/bin/chromium";
        string driver = Environment.GetEnvironmentVariable("RAYSHARP_CHROMEDRIVER") is { Length: > 0 } d ? d : "/usr/bin/chromedriver";
        if (!File.Exists(browser) || !File.Exists(driver))
            Assert.Fail($"The dashboard's browser test needs Chromium and its driver ({browser}, {driver}): apt-get install -y chromium chromium-driver " +
                "(./test.sh installs them when missing), or point RAYSHARP_CHROMIUM and RAYSHARP_CHROMEDRIVER at them.");
        var options = new ChromeOptions { BinaryLocation = browser };
        // --no-sandbox: the tests run as root, where Chromium refuses its sandbox.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,1100",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--user-data-dir=" + _profile);
        _service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driver)!, Path.GetFileName(driver));
        _service.SuppressInitialDiagnosticInformation = true;
        _service.HideCommandPromptWindow = true;
        try
        {
            Driver = new ChromeDriver(_service, options, Wait);
        }
        catch (WebDriverException e)
        {
            Dispose();
            Assert.Fail($"Chromium ({browser}) did not start under {driver}: {e.Message}");
            throw;
        }
    }

    public ChromeDriver Driver { get; } = null!;

    /// <summary>Waits until <paramref name="condition"/> holds (element lookups that miss count as "not yet"); on timeout
    /// fails naming <paramref name="what"/> and the page's visible text.</summary>
    public T Until<T>(string what, Func<IWebDriver, T?> condition)
    {
        var wait = new WebDriverWait(Driver, Wait) { PollingInterval = TimeSpan.FromMilliseconds(100) };
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            return wait.Until(condition)!;
        }
        catch (WebDriverTimeoutException)
        {
            string text;
            try { text = Driver.FindElement(By.TagName("body")).Text; }
            catch (WebDriverException e) { text = "(the page could not be read: " + e.Message + ")"; }
            Assert.Fail($"After {Wait.TotalSeconds:0} s the page still does not show {what}. It shows:\n{text}");
            throw;
        }
    }

    /// <summary>Clicks the element <paramref name="by"/> finds once it is there; a list redrawn by a live update between
    /// finding and clicking is looked up again.</summary>
    public void Click(string what, By by) => Until(what, d =>
    {
        d.FindElement(by).Click();
        return true;
    });

    public void Dispose()
    {
        try
        {
            Driver?.Quit();
        }
        catch (WebDriverException)
        {
            // The browser is ended below either way.
        }
        Driver?.Dispose();
        _service.Dispose();
        foreach (int pid in ProcessesUsing(_profile))
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                p.Kill(entireProcessTree: true);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
        }
        try
        {
            if (Directory.Exists(_profile)) Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // A process was still writing to it; it is under the temp directory.
        }
    }

    /// <summary>The processes whose command line names <paramref name="profile"/> (the browser and its helpers).</summary>
    private static List<int> ProcessesUsing(string profile)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == Environment.ProcessId) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(profile, StringComparison.Ordinal)) pids.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Exited while we looked.
            }
        }
        return pids;
    }
}
