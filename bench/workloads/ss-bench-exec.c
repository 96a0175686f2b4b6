// SPDX-License-Identifier: MIT
/*
 * ss-bench-exec: runs one tracer for the benchmark harness and measures it from outside.
 *
 *   ss-bench-exec [-o STDOUT_FILE] [-e STDERR_FILE] [-m MARKER | -M MARKER] -- CMD ARGS...
 *
 * CMD's stdout goes to STDOUT_FILE (default /dev/null), its stdin is /dev/null, and its stderr
 * passes through this program into STDERR_FILE, so that the first line containing MARKER (the
 * "attached" line) is timestamped the moment it is written. With -M the marker is looked for at
 * the start of STDOUT_FILE instead (for tools that announce on stdout), every millisecond.
 * SIGTERM and SIGINT sent to this program are forwarded to CMD. Lines on this program's stdout,
 * for the harness:
 *
 *   started PID
 *   attached MS                        (ms from fork to the marker line)
 *   exit {"status":..,"utime_s":..,"stime_s":..,"cpu_s":..,"maxrss_kib":..,"wall_s":..}
 *
 * cpu_s is utime+stime of CMD's whole thread group: /proc/PID/stat fields 14 and 15, read while
 * CMD is a zombie (waitid WNOWAIT), so the drain at exit is included; maxrss_kib is the kernel's
 * high-water mark of its resident set (VmHWM), from wait4's rusage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child = -1;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "ss-bench-exec: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return fd;
}

/* utime+stime in seconds from /proc/PID/stat (fields 14 and 15, after the ")" of comm). */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[4096];
	unsigned long long ut = 0, st = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

int main(int argc, char **argv)
{
	const char *out = "/dev/null", *err = "/dev/null", *marker = NULL;
	int opt, pipefd[2], in_stdout = 0;

	while ((opt = getopt(argc, argv, "+o:e:m:M:")) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case 'e': err = optarg; break;
		case 'm': marker = optarg; break;
		case 'M': marker = optarg; in_stdout = 1; break;
		default:
			fprintf(stderr, "usage: ss-bench-exec [-o FILE] [-e FILE] [-m|-M MARKER] -- CMD ARGS...\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "ss-bench-exec: no command\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	int outfd = open_out(out), errfd = open_out(err);
	if (pipe2(pipefd, O_CLOEXEC)) {
		perror("ss-bench-exec: pipe");
		return 2;
	}

	struct sigaction sa = { .sa_handler = forward };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	double start = now_s();
	pid_t pid = fork();
	if (pid < 0) {
		perror("ss-bench-exec: fork");
		return 2;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		/* a background job may have SIGINT ignored: give the tracer the defaults */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		dup2(in, 0);
		dup2(outfd, 1);
		dup2(pipefd[1], 2);
		execvp(argv[optind], &argv[optind]);
		dprintf(pipefd[1], "ss-bench-exec: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	child = pid;
	close(pipefd[1]);
	close(outfd);
	printf("started %d\n", (int)pid);

	/* Copy stderr through, watching for the marker (a line may arrive in pieces). */
	char buf[8192], line[8192];
	size_t linelen = 0;
	int seen = marker == NULL;
	int peek = in_stdout ? open(out, O_RDONLY | O_CLOEXEC) : -1;
	for (;;) {
		if (!seen && peek >= 0) {
			struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
			if (poll(&p, 1, 1) == 0) {
				ssize_t m = pread(peek, line, sizeof(line) - 1, 0);
				if (m > 0) {
					line[m] = 0;
					if (strstr(line, marker)) {
						seen = 1;
						printf("attached %.3f\n", (now_s() - start) * 1e3);
					}
				}
				continue;
			}
		}
		ssize_t n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		double t = now_s();
		if (write(errfd, buf, n) < 0) {
			/* the harness reads the file; a full disk only loses the copy */
		}
		for (ssize_t i = 0; i < n && !seen && peek < 0; i++) {
			if (buf[i] == '\n' || linelen == sizeof(line) - 1) {
				line[linelen] = 0;
				if (strstr(line, marker)) {
					seen = 1;
					printf("attached %.3f\n", (t - start) * 1e3);
				}
				linelen = 0;
			} else {
				line[linelen++] = buf[i];
			}
		}
	}

	siginfo_t si;
	while (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	double cpu = proc_cpu_s(pid);
	struct rusage ru = {0};
	int status = 0;
	while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	double wall = now_s() - start;
	double ut = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	double st = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	if (cpu < 0)
		cpu = ut + st;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	printf("exit {\"status\":%d,\"utime_s\":%.3f,\"stime_s\":%.3f,\"cpu_s\":%.3f,\"maxrss_kib\":%ld,\"wall_s\":%.3f}\n",
	       code, ut, st, cpu, ru.ru_maxrss, wall);
	close(errfd);
	return 0;
}
