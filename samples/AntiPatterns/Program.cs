using AntiPatterns;
using RaySharp;

// Runs a few of the fixed versions. The point of this project is the build: each RAYnnn_*.cs file shows
// the analyzer's warning on its Bad version and none on its Fixed version.
Ray.Init(new RayOptions { LocalMode = true });
try
{
    Console.WriteLine($"RAY103 fixed: {GetInLoop.Fixed(4)}");
    Console.WriteLine($"RAY104 fixed: {UnnecessaryGet.Fixed()}");
    SubmissionOrder.Fixed(4);
    Console.WriteLine($"RAY107 fixed: {FineGrained.Fixed([1, 2, 3]).Sum()}");
    Console.WriteLine($"RAY013 fixed: {ViewLifetime.Fixed(Ray.Put<float>([1f, 2f, 3f]))}");
}
finally
{
    Ray.Shutdown();
}
