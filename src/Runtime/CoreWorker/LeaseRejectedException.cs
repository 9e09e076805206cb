namespace RaySharp.Core;

/// <summary>A raylet could not grant a lease this time (Ray's <c>rejected</c> lease reply): the worker it started died
/// before registering, or the node is going away. Unlike a canceled request, the work is still schedulable, so the
/// submitter asks again.</summary>
internal sealed class LeaseRejectedException(string message) : Exception(message);
