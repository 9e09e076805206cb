using System.Security.Cryptography;
using System.Text;
using RaySharp.Core;

namespace RaySharp.Dashboard;

/// <summary>
/// The cluster token on HTTP: a route that changes state answers 401 unless the request carries
/// <c>Authorization: Bearer &lt;token&gt;</c> (compared in constant time); refusals are logged with the caller's address.
/// Reads stay open, as in Ray (the dashboard listens on loopback unless --dashboard-host says otherwise).
/// </summary>
internal static class ClusterTokenFilter
{
    public static TBuilder RequireClusterToken<TBuilder>(this TBuilder builder, ClusterToken token) where TBuilder : IEndpointConventionBuilder
    {
        byte[] expected = Encoding.UTF8.GetBytes(token.Value);
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            string header = http.Request.Headers.Authorization.ToString();
            const string Scheme = "Bearer ";
            bool ok = header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) &&
                CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[Scheme.Length..].Trim()), expected);
            if (ok) return await next(context).ConfigureAwait(false);
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("RaySharp.Dashboard.Auth").LogWarning(
                "Refused {Method} {Path} from {Remote}: {Reason}", http.Request.Method, http.Request.Path, http.Connection.RemoteIpAddress,
                header.Length == 0 ? "no cluster token" : "wrong cluster token");
            return Results.Text($"Unauthenticated: {http.Request.Method} {http.Request.Path} needs the cluster token as 'Authorization: Bearer <token>' " +
                $"({ClusterToken.Variable}, or the head's <session dir>/{ClusterToken.FileName}).", statusCode: StatusCodes.Status401Unauthorized);
        });
        return builder;
    }
}
