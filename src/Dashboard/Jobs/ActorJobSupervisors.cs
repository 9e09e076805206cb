using RaySharp.Core;
using RaySharp.Core.Jobs;
using RaySharp.Core.Rpc;

namespace RaySharp.Dashboard.Jobs;

/// <summary>Supervisors as detached actors named <c>_raysharp_job_supervisor_&lt;id&gt;</c> in the namespace
/// <c>_raysharp_jobs</c>, pinned to the head node (hard node affinity) and holding no CPU. The dashboard is a driver of
/// the cluster (<see cref="Ray.Init"/>); the actors' worker runs from the dashboard's directory, whose
/// RaySharp.Runtime.dll registers the supervisor (see <see cref="JobSupervisor.Functions"/>).</summary>
internal sealed class ActorJobSupervisors(GcsClient gcs, string sessionDir, ILogger<ActorJobSupervisors> logger) : IJobSupervisors
{
    public const string Namespace = "_raysharp_jobs";

    private static string NameOf(string id) => "_raysharp_job_supervisor_" + id;

    public void Start(JobInfo job)
    {
        var head = gcs.GetAllNodes().Nodes.FirstOrDefault(n => n.IsHead && n.Alive)
            ?? throw new InvalidOperationException("the cluster has no alive head node to run the job supervisor on");
        var options = new ActorOptions
        {
            Name = NameOf(job.SubmissionId), Namespace = Namespace, Lifetime = ActorLifetime.Detached, NumCpus = 0,
            SchedulingStrategy = new NodeAffinitySchedulingStrategy(head.NodeId, soft: false),
        };
        JobSupervisor.Functions.Create(options, job.SubmissionId, job.Entrypoint, job.RuntimeEnv?.EnvVars, job.RuntimeEnv?.WorkingDir, sessionDir,
            gcs.Endpoint);
    }

    public async Task<bool> StopAsync(string submissionId, CancellationToken ct)
    {
        if (!Ray.TryGetActor<JobSupervisor>(NameOf(submissionId), out var actor, Namespace) || actor is null) return false;
        return await Ray.GetAsync([JobSupervisor.Functions.StopAsync(actor)], ct: ct).ConfigureAwait(false) is [true];
    }

    public SupervisorState StateOf(string submissionId, out string? cause)
    {
        cause = null;
        var actor = gcs.GetAllActors().Where(a => a.Creation.Name == NameOf(submissionId) && a.Creation.Namespace == Namespace)
            .OrderByDescending(a => a.State != ActorLifecycleState.Dead).FirstOrDefault();
        if (actor is null) return SupervisorState.Missing;
        cause = actor.DeathCause?.Message;
        return actor.State == ActorLifecycleState.Dead ? SupervisorState.Dead : SupervisorState.Alive;
    }

    public void Kill(string submissionId)
    {
        if (Ray.TryGetActor<JobSupervisor>(NameOf(submissionId), out var actor, Namespace) && actor is not null)
        {
            Ray.Kill(actor);
            logger.LogInformation("Job {SubmissionId} ended: its supervisor was stopped", submissionId);
        }
    }
}
