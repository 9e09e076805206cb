using WorkerService;

// The content root is the build output, where appsettings.json is, wherever the service is started from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });

// Ray.Init when the host starts, Ray.Shutdown when it stops; RayOptions from the "RaySharp" section of appsettings.json
// (or RaySharp__Address=host:port and the like in the environment). The runtime logs through the host's logging.
builder.Services.AddRaySharp();

builder.Services.Configure<WorkerOptions>(builder.Configuration.GetSection(WorkerOptions.Section));
builder.Services.AddHostedService<Worker>();

await builder.Build().RunAsync();
