using System.Text;
using Sysstream.Proc;
using Xunit;

namespace Sysstream.Tests.Proc;

public sealed class ProcessTableTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ss-proc-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void AddProcess(int pid, string comm, int ppid, ulong start, uint uid, uint gid, string[] argv, string cgroup)
    {
        string dir = Path.Combine(_root, "proc", pid.ToString());
        Directory.CreateDirectory(dir);
        // 52 fields; the name may hold spaces and parentheses
        var fields = new List<string> { "S", ppid.ToString() };
        for (int i = 5; i <= 21; i++)
            fields.Add("0");
        fields.Add(start.ToString());
        for (int i = 23; i <= 52; i++)
            fields.Add("0");
        File.WriteAllText(Path.Combine(dir, "stat"), $"{pid} ({comm}) {string.Join(' ', fields)}\n");
        File.WriteAllText(Path.Combine(dir, "status"), $"Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{gid}\t{gid}\t{gid}\t{gid}\n");
        File.WriteAllBytes(Path.Combine(dir, "cmdline"), Encoding.UTF8.GetBytes(string.Join('\0', argv) + "\0"));
        File.WriteAllText(Path.Combine(dir, "cgroup"), $"1:name=systemd:/x\n0::{cgroup}\n");
    }

    private void AddUsers()
    {
        Directory.CreateDirectory(Path.Combine(_root, "etc"));
        File.WriteAllText(Path.Combine(_root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n");
        File.WriteAllText(Path.Combine(_root, "etc/group"), "root:x:0:\nwww-data:x:33:\n");
    }

    [Fact]
    public void Reads_NameWithParentheses_User_Cmdline_Cgroup()
    {
        AddUsers();
        AddProcess(42, "we (ird) name", 7, 12345, 33, 33, ["nginx", "-g", "daemon off;"], "/system.slice/nginx.service");
        var table = new ProcessTable(_root);

        ProcessInfo p = table.Get(42)!;

        Assert.Equal("we (ird) name", p.Comm);
        Assert.Equal(7, p.Ppid);
        Assert.Equal(12345UL, p.StartTicks);
        Assert.Equal("www-data", p.User);
        Assert.Equal("www-data", p.Group);
        Assert.Equal("nginx -g daemon off;", p.CommandLine);
        Assert.Equal("/system.slice/nginx.service", p.Cgroup);
        Assert.Equal([42], table.Pids());
    }

    [Fact]
    public void KeepsFactsOfAGoneProcess_AndNoticesAReusedPid()
    {
        AddUsers();
        AddProcess(50, "curl", 1, 100, 0, 0, ["curl", "x"], "/");
        var table = new ProcessTable(_root);
        Assert.Equal("curl", table.Get(50)!.Comm);

        Directory.Delete(Path.Combine(_root, "proc", "50"), recursive: true);
        Assert.Equal("curl", table.Get(50)!.Comm);

        AddProcess(50, "wget", 1, 200, 1000, 1000, ["wget"], "/");
        ProcessInfo reused = table.Get(50)!;
        Assert.Equal("wget", reused.Comm);
        Assert.Equal("1000", reused.User); // not in passwd: the number
    }

    [Fact]
    public void Unknown_Pid_IsNull_And_Garbage_DoesNotThrow()
    {
        var table = new ProcessTable(_root);
        Directory.CreateDirectory(Path.Combine(_root, "proc", "9"));
        File.WriteAllText(Path.Combine(_root, "proc", "9", "stat"), "garbage");
        Assert.Null(table.Get(8));
        Assert.Null(table.Get(9));
        Assert.False(ProcessTable.TryParseStat("1 (x) S", out _, out _, out _));
        Assert.Equal((0u, 0u), ProcessTable.ParseStatusIds(null));
        Assert.Equal("", ProcessTable.ParseCmdline([]));
    }
}
