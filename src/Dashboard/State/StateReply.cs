using System.Text.Json;
using RaySharp.State;

namespace RaySharp.Dashboard.State;

/// <summary>
/// The envelope of every <c>/api/v0/...</c> reply, as Ray's dashboard shapes it: <c>{"result": true, "msg": "",
/// "data": {"result": ...}}</c> on success, <c>{"result": false, "msg": "why", "data": {}}</c> with a 4xx/5xx status
/// otherwise. Serialized with <see cref="StateApi.JsonOptions"/> (snake_case names, enums in upper snake case).
/// </summary>
internal static class StateReply
{
    private sealed record Envelope(bool Result, string Msg, object Data);

    private sealed record Payload(object Result);

    /// <summary>A list as Ray's <c>ListApiResponse</c>: <c>total</c> and <c>num_filtered</c> both count the rows that passed
    /// the filters (the GCS filters tasks before anything is counted), <c>num_after_truncation</c> the rows returned.</summary>
    private sealed record ListPayload<T>(int Total, int NumAfterTruncation, int NumFiltered, IReadOnlyList<T> Result, string PartialFailureWarning,
        IReadOnlyList<string> Warnings);

    public static IResult List<T>(ListResult<T> rows) => Ok(new ListPayload<T>(rows.Total, rows.Count, rows.Total, [.. rows],
        rows.Warnings.Count == 0 ? "" : string.Join(" ", rows.Warnings), rows.Warnings));

    public static IResult Ok(object result) => Results.Json(new Envelope(true, "", new Payload(result)), StateApi.JsonOptions);

    public static IResult Error(string message, int status) =>
        Results.Json(new Envelope(false, message, new Dictionary<string, object>()), StateApi.JsonOptions, statusCode: status);

    /// <summary>Runs a read of the cluster's state: a bad query is a 400 naming what is wrong, a GCS that does not answer a 503.</summary>
    public static IResult Run(Func<IResult> read, ILogger log)
    {
        try
        {
            return read();
        }
        catch (ArgumentException e)
        {
            return Error(e.Message, StatusCodes.Status400BadRequest);
        }
        catch (RayException e)
        {
            log.LogWarning(e, "A state request could not reach the GCS");
            return Error($"The GCS did not answer: {e.Message}", StatusCodes.Status503ServiceUnavailable);
        }
    }

    /// <summary>The JSON of <paramref name="value"/> as a reply body would have it (for the live snapshots).</summary>
    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, StateApi.JsonOptions);
}
