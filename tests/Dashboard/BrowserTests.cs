using OpenQA.Selenium;
using RaySharp.Jobs;
using Xunit;
using Xunit.Abstractions;

namespace RaySharp.Dashboard.Tests;

/// <summary>The web UI in a real (headless) browser, checked for what a person would see: the page is opened before the
/// job runs, so every change it shows arrived by live update.</summary>
[Collection(DashboardCollection.Name)]
public sealed class BrowserTests(DashboardFixture fixture, ITestOutputHelper output)
{
    /// <summary>Where the screenshot of the overview is saved (next to the test assembly).</summary>
    public static string ScreenshotPath => Path.Combine(AppContext.BaseDirectory, "dashboard.png");

    [Fact]
    public async Task A_person_sees_the_node_the_job_its_actor_and_tasks_update_live_and_can_stop_a_job_with_the_token()
    {
        using var chromium = new HeadlessChromium();
        var browser = chromium.Driver;
        browser.Navigate().GoToUrl(fixture.Url + "/#/");

        // The overview: the head node, alive, and the live indicator.
        string head = fixture.Cluster.Head.NodeId.ToString();
        chromium.Until("the head node as ALIVE", d => d.FindElement(By.CssSelector($"table[data-table=nodes] tr[data-node='{head}'] .badge[data-state=ALIVE]")));
        chromium.Until("the live indicator", d => d.FindElement(By.Id("live")).GetAttribute("data-state") == "live");

        // A job submitted now shows up and reaches SUCCEEDED without a reload; its entrypoint is shown as text, not markup.
        var w = await fixture.Workload;
        string job = chromium.Until("the job as SUCCEEDED", d => d.FindElement(By.CssSelector($"table[data-table=jobs] tr[data-job='{w.SubmissionId}']")) is { } row &&
            row.FindElement(By.CssSelector(".badge")).Text == "SUCCEEDED" ? row.Text : null);
        Assert.Contains(DashboardFixture.Markup, job, StringComparison.Ordinal);
        Assert.Empty(browser.FindElements(By.Id("injected")));
        Assert.NotEqual("none", browser.FindElement(By.CssSelector("[data-card=CPU] .value")).Text);
        browser.Manage().Window.Size = new System.Drawing.Size(1440, 1100);
        browser.GetScreenshot().SaveAsFile(ScreenshotPath);
        output.WriteLine($"Screenshot of the overview: {ScreenshotPath}");

        // Actors: the job's detached actor with its class, state and process.
        chromium.Click("the Actors page", By.CssSelector("#nav a[data-page=actors]"));
        // Read in one go (text, state, pid, link): a live update may redraw the list at any moment.
        string[] found = chromium.Until("the actor " + w.ActorName + " with its worker's pid", d => d
            .FindElements(By.CssSelector("table[data-table=actors] tbody tr")).Where(r => r.Text.Contains(w.ActorName, StringComparison.Ordinal))
            .Select(r => r.FindElements(By.CssSelector("a[href^='#/logs/worker-']")) is [var link]
                ? new[] { r.Text, r.FindElement(By.CssSelector(".badge")).Text, link.Text, link.GetAttribute("href")! } : null).FirstOrDefault(r => r is not null));
        var (actor, state, pid, workerLog) = (found[0], found[1], found[2], found[3]);
        Assert.Contains("Keeper", actor, StringComparison.Ordinal);
        Assert.Equal("ALIVE", state);
        Assert.True(int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture) > 0, actor);
        browser.GetScreenshot().SaveAsFile(Path.Combine(AppContext.BaseDirectory, "dashboard-actors.png"));

        // Its worker's log, one click away.
        chromium.Click("the link to the actor worker's log", By.CssSelector($"table[data-table=actors] a[href='{workerLog[workerLog.IndexOf('#', StringComparison.Ordinal)..]}']"));
        chromium.Until("the actor worker's log", d => d.FindElement(By.CssSelector("pre[data-log=file]")).Text.Length > 0);
        Assert.Contains("worker-", browser.FindElement(By.TagName("h1")).Text, StringComparison.Ordinal);

        // Tasks: the job's remote function, finished, with its duration.
        chromium.Click("the Tasks page", By.CssSelector("#nav a[data-page=tasks]"));
        string task = chromium.Until("the Printer.Print task as FINISHED", d => d.FindElements(By.CssSelector("table[data-table=tasks] tbody tr"))
            .FirstOrDefault(r => r.Text.Contains("Printer.Print", StringComparison.Ordinal) && r.FindElement(By.CssSelector(".badge")).Text == "FINISHED")?.Text);
        Assert.Contains("NORMAL_TASK", task, StringComparison.Ordinal);
        browser.GetScreenshot().SaveAsFile(Path.Combine(AppContext.BaseDirectory, "dashboard-tasks.png"));

        // The job's page: its log as the job wrote it.
        browser.Navigate().GoToUrl($"{fixture.Url}/#/jobs/{Uri.EscapeDataString(w.SubmissionId)}");
        chromium.Until("the job's log", d => d.FindElement(By.CssSelector("pre[data-log=job]")).Text.Contains("printed by pid", StringComparison.Ordinal));
        Assert.Contains(DashboardFixture.Markup, browser.FindElement(By.CssSelector("pre[data-log=job]")).Text, StringComparison.Ordinal);
        Assert.Empty(browser.FindElements(By.Id("injected")));

        // A job submitted while the Jobs page is open appears there by itself, running.
        chromium.Click("the Jobs page", By.CssSelector("#nav a[data-page=jobs]"));
        chromium.Until("the jobs list", d => d.FindElement(By.CssSelector($"table[data-table=jobs] tr[data-job='{w.SubmissionId}']")));
        using var jobs = new JobSubmissionClient(fixture.Url);
        string longJob = await jobs.SubmitJobAsync(new JobSubmission { Entrypoint = "echo started; sleep 600 & wait" });
        chromium.Until("the new job as RUNNING", d => d.FindElement(By.CssSelector($"table[data-table=jobs] tr[data-job='{longJob}'] .badge")).Text == "RUNNING");

        // Stopping it: refused until the person gives the cluster token, then done.
        void ClickStop() => chromium.Click("the stop button of the running job",
            By.CssSelector($"table[data-table=jobs] tr[data-job='{longJob}'] button[data-action=stop]"));
        ClickStop();
        chromium.Until("the request for the token", d => d.FindElement(By.Id("token-panel")).Displayed &&
            d.FindElement(By.Id("token-state")).Text.Contains("needs the cluster token", StringComparison.Ordinal));
        Assert.Equal(JobStatus.Running, await jobs.GetJobStatusAsync(longJob));

        browser.FindElement(By.Id("token-input")).SendKeys("not-the-token");
        browser.FindElement(By.CssSelector("#token-form button[type=submit]")).Click();
        ClickStop();
        chromium.Until("the refusal of a wrong token", d => d.FindElement(By.Id("token-state")).Text.Contains("refused", StringComparison.Ordinal));
        Assert.Equal(JobStatus.Running, await jobs.GetJobStatusAsync(longJob));

        browser.FindElement(By.Id("token-input")).SendKeys(fixture.Token);
        browser.FindElement(By.CssSelector("#token-form button[type=submit]")).Click();
        ClickStop();
        chromium.Until("the job as STOPPED", d => d.FindElement(By.CssSelector($"table[data-table=jobs] tr[data-job='{longJob}'] .badge")).Text == "STOPPED");
        Assert.Equal(JobStatus.Stopped, await jobs.GetJobStatusAsync(longJob));
    }
}
