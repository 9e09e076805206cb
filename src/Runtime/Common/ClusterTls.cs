using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RaySharp.Core;

/// <summary>
/// TLS between the cluster's processes over TCP (Ray's <c>RAY_USE_TLS</c>): each process serves its gRPC services over
/// HTTPS with its certificate, presents the same certificate as a client, and accepts a peer — server or client — only
/// when that peer's certificate chains to the cluster's CA (mutual TLS, as Ray's gRPC servers require). A client also
/// checks that the server's certificate names the address it called (an IP address in the subject alternative names).
/// Unix-socket traffic between a raylet and the processes of its own node stays in clear (it never leaves the machine,
/// and the sockets are the owner's only). The cluster token is checked as well, TLS or not.
/// </summary>
internal sealed class ClusterTls
{
    public const string UseVariable = "RAY_USE_TLS";
    public const string CertificateVariable = "RAY_TLS_SERVER_CERT";
    public const string KeyVariable = "RAY_TLS_SERVER_KEY";
    public const string CaVariable = "RAY_TLS_CA_CERT";

    /// <summary>The variables a process hands to the processes it starts, and a job may not set for its workers.</summary>
    public static readonly string[] Variables = [UseVariable, CertificateVariable, KeyVariable, CaVariable];

    private ClusterTls(X509Certificate2 certificate, X509Certificate2Collection authorities)
    {
        Certificate = certificate;
        Authorities = authorities;
    }

    /// <summary>This process's certificate with its private key: its server certificate and its client certificate.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The cluster's CA certificates, the only roots a peer's certificate may chain to.</summary>
    public X509Certificate2Collection Authorities { get; }

    /// <summary>TLS as the environment asks: null unless <c>RAY_USE_TLS</c> is 1 or true; then the three PEM files must
    /// load, or this throws <see cref="InvalidOperationException"/> naming the variable (a process never falls back
    /// to clear text when TLS was asked for).</summary>
    public static ClusterTls? FromEnvironment(Func<string, string?> getVariable)
    {
        string? use = getVariable(UseVariable)?.Trim();
        if (string.IsNullOrEmpty(use) || use == "0" || use.Equals("false", StringComparison.OrdinalIgnoreCase)) return null;
        if (use != "1" && !use.Equals("true", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"{UseVariable}='{use}' is not 1, 0, true or false.");
        string File(string variable) => getVariable(variable) is { Length: > 0 } path ? path
            : throw new InvalidOperationException($"{UseVariable} is set but {variable} is not: TLS needs {CertificateVariable}, {KeyVariable} " +
                $"and {CaVariable} (PEM files).");
        return Load(File(CertificateVariable), File(KeyVariable), File(CaVariable));
    }

    /// <summary>Loads a certificate, its key and the CA certificates from PEM files.</summary>
    public static ClusterTls Load(string certificatePath, string keyPath, string caPath)
    {
        X509Certificate2 certificate;
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            // An ephemeral key cannot serve TLS on every platform: re-import it as PKCS#12.
            certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidOperationException($"TLS: cannot load the certificate {certificatePath} ({CertificateVariable}) with the key {keyPath} " +
                $"({KeyVariable}): {e.Message}", e);
        }
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(caPath);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            certificate.Dispose();
            throw new InvalidOperationException($"TLS: cannot load the CA certificates {caPath} ({CaVariable}): {e.Message}", e);
        }
        if (authorities.Count == 0)
        {
            certificate.Dispose();
            throw new InvalidOperationException($"TLS: {caPath} ({CaVariable}) holds no certificate.");
        }
        return new ClusterTls(certificate, authorities);
    }

    /// <summary>True when <paramref name="peer"/> chains to one of the cluster's CAs (and, when <paramref name="checkName"/>,
    /// names the host that was called).</summary>
    public bool Accepts(X509Certificate? peer, SslPolicyErrors errors, bool checkName)
    {
        if (peer is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) return false;
        if (checkName && errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(Authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        var certificate = peer as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(peer.GetRawCertData());
        try
        {
            return chain.Build(certificate);
        }
        finally
        {
            if (!ReferenceEquals(certificate, peer)) certificate.Dispose();
        }
    }

    /// <summary>What a client of the cluster's services presents and checks.</summary>
    public SslClientAuthenticationOptions ClientOptions() => new()
    {
        ClientCertificates = [Certificate],
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        RemoteCertificateValidationCallback = (_, certificate, _, errors) => Accepts(certificate, errors, checkName: true),
    };
}
