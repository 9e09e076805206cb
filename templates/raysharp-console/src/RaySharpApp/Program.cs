using RaySharp;
using RaySharpApp;

// A one-node cluster inside this program: tasks and actors run in worker processes it starts, and everything stops
// with it. Set RAY_ADDRESS=HOST:PORT to join a cluster started with `raysharp start --head` instead.
using var ray = Ray.Init();

// Tasks run in parallel; their results are futures (ObjectRef<T>) that can be awaited or passed to other tasks.
var squares = Enumerable.Range(0, 8).Select(i => MathTasks.Remote.Square(i)).ToList();
Console.WriteLine($"squares: {string.Join(", ", Ray.Get(squares))}");
Console.WriteLine($"sum of two: {await MathTasks.Remote.Add(squares[3], squares[4])}");

// An actor keeps its state between calls; calls from one caller run in order.
var counter = Counter.Remote.Create(10);
_ = counter.Increment();
Console.WriteLine($"counter: {await counter.Increment()}");
