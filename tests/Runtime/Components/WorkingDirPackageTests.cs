using System.IO.Compression;
using Microsoft.Extensions.Logging.Abstractions;
using RaySharp.Core.Packaging;
using Xunit;

namespace RaySharp.Tests.Components;

public sealed class WorkingDirPackageTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "rs-pkg-" + Guid.NewGuid().ToString("N")[..8]);

    public WorkingDirPackageTests() => Directory.CreateDirectory(_root);

    private string Dir(string name, params (string Path, string Text)[] files)
    {
        string dir = Path.Combine(_root, name);
        foreach (var (path, text) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dir, path))!);
            File.WriteAllText(Path.Combine(dir, path), text);
        }
        return dir;
    }

    [Fact]
    public void The_same_files_give_the_same_uri_and_other_files_another()
    {
        var (a, zipA) = WorkingDirPackage.Pack(Dir("a", ("x.txt", "1"), ("sub/y.txt", "2")), 1 << 20);
        File.SetLastWriteTimeUtc(Path.Combine(_root, "a", "x.txt"), DateTime.UtcNow.AddDays(-3));
        var (again, _) = WorkingDirPackage.Pack(Path.Combine(_root, "a"), 1 << 20);
        var (b, _) = WorkingDirPackage.Pack(Dir("b", ("x.txt", "1"), ("sub/y.txt", "3")), 1 << 20);
        Assert.True(WorkingDirPackage.IsUri(a), a);
        Assert.Equal(a, again);
        Assert.NotEqual(a, b);
        string target = Path.Combine(_root, "out");
        WorkingDirPackage.Unpack(zipA, target);
        Assert.Equal("2", File.ReadAllText(Path.Combine(target, "sub", "y.txt")));
    }

    [Fact]
    public void A_directory_over_the_limit_is_refused_naming_the_setting()
    {
        var e = Assert.Throws<ArgumentException>(() => WorkingDirPackage.Pack(Dir("big", ("data.bin", new string('x', 100_000))), 1000));
        Assert.Contains("internal_kv_max_value_size", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../escape.txt")]
    [InlineData("sub/../../escape.txt")]
    [InlineData("/etc/escape.txt")]
    [InlineData("sub\\..\\..\\escape.txt")]
    public void An_entry_outside_the_directory_is_refused(string entry)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        using (var writer = new StreamWriter(zip.CreateEntry(entry).Open())) writer.Write("x");
        string target = Path.Combine(_root, "t");
        Assert.Throws<InvalidDataException>(() => WorkingDirPackage.Unpack(buffer.ToArray(), target));
        Assert.False(File.Exists(Path.Combine(_root, "escape.txt")));
    }

    [Fact]
    public void Uris_other_than_packages_are_not_uris()
    {
        Assert.False(WorkingDirPackage.IsUri("/tmp/dir"));
        Assert.False(WorkingDirPackage.IsUri("gcs://_ray_pkg_../../x.zip"));
        Assert.False(WorkingDirPackage.IsUri("gcs://_ray_pkg_0123456789ABCDEF0123456789abcdef.zip"));
    }

    [Fact]
    public async Task Concurrent_requests_unpack_a_package_once_and_a_missing_one_fails_clearly()
    {
        var (uri, zip) = WorkingDirPackage.Pack(Dir("c", ("f.txt", "v")), 1 << 20);
        int fetches = 0;
        var cache = new WorkingDirCache(Path.Combine(_root, "session"), (_, _) =>
        {
            Interlocked.Increment(ref fetches);
            return Task.FromResult<byte[]?>(zip);
        }, NullLogger.Instance);
        var dirs = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => cache.GetAsync(uri, CancellationToken.None))));
        Assert.Single(dirs.Distinct());
        Assert.Equal(1, fetches);
        Assert.Equal("v", File.ReadAllText(Path.Combine(dirs[0], "f.txt")));

        var empty = new WorkingDirCache(Path.Combine(_root, "session2"), (_, _) => Task.FromResult<byte[]?>(null), NullLogger.Instance);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => empty.GetAsync(uri, CancellationToken.None));
        Assert.Contains("no working-dir package", e.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
