using System.Reflection;

namespace RaySharp.Dashboard.Live;

/// <summary>
/// The web UI: <c>/</c> and the files under <c>/static/</c>, embedded in this assembly (the page needs no internet and
/// no build step). Only the names in <see cref="s_assets"/> are served; nothing from the request touches the file system.
/// The page is sent with a Content-Security-Policy that allows only this origin's scripts and styles and no inline script,
/// so text that slipped into markup still could not run.
/// </summary>
internal sealed class WebUiModule : IDashboardModule
{
    private static readonly Dictionary<string, string> s_assets = new(StringComparer.Ordinal)
    {
        ["index.html"] = "text/html; charset=utf-8",
        ["app.js"] = "text/javascript; charset=utf-8",
        ["app.css"] = "text/css; charset=utf-8",
    };

    private const string Policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private readonly Dictionary<string, byte[]> _content = s_assets.Keys.ToDictionary(name => name, Load, StringComparer.Ordinal);

    private static byte[] Load(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("RaySharp.Dashboard.wwwroot." + name)
            ?? throw new InvalidOperationException($"The dashboard was built without its web asset '{name}'.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/", (HttpResponse response) => Serve(response, "index.html"));
        routes.MapGet("/static/{name}", (string name, HttpResponse response) =>
            s_assets.ContainsKey(name) ? Serve(response, name) : Results.NotFound());
    }

    private IResult Serve(HttpResponse response, string name)
    {
        response.Headers.ContentSecurityPolicy = Policy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.CacheControl = "no-cache";
        return Results.Bytes(_content[name], s_assets[name]);
    }
}
