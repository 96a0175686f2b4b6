// SPDX-License-Identifier: MIT
/*
 * ss-pingpong: the worst case for a per-call tracer over TCP. PAIRS client/server process pairs
 * on 127.0.0.1 each bounce one byte back and forth (send, recv, recv, send per round trip) as
 * fast as they can, for SECONDS seconds. Several pairs keep every CPU busy, so the result does
 * not hinge on where the scheduler puts the two ends of one pair.
 *
 *   ss-pingpong SECONDS [PAIRS]      (PAIRS: default 4)
 *
 * Prints one JSON line: round trips, seconds, round trips per second, and the exact number of
 * system calls the pairs made that a network tracer sees (socket, bind, listen, connect, accept,
 * send, recv, close on sockets), and of those the sends and receives.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned long long calls, data_calls;

#define TRACED(expr) (calls++, (expr))
#define DATA(expr) (data_calls++, TRACED(expr))

/* What each process of a pair reports through the pipe (one write: atomic under PIPE_BUF). */
struct report {
	unsigned long long trips, calls, data_calls;
	double seconds;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "ss-pingpong: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void send_report(int fd, unsigned long long trips, double seconds)
{
	struct report r = { trips, calls, data_calls, seconds };
	if (write(fd, &r, sizeof(r)) != sizeof(r))
		_exit(1);
}

/* One pair: this process makes the listener, forks the server, and is the client. */
static void pair(double seconds, int out)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	char b = 'x';

	int lfd = TRACED(socket(AF_INET, SOCK_STREAM, 0));
	if (lfd < 0)
		die("socket");
	if (TRACED(bind(lfd, (struct sockaddr *)&addr, sizeof(addr))) || TRACED(listen(lfd, 1)))
		die("bind/listen");
	if (getsockname(lfd, (struct sockaddr *)&addr, &alen))
		die("getsockname");

	pid_t server = fork();
	if (server < 0)
		die("fork");
	if (server == 0) {
		/* server: echo each byte until the client closes */
		calls = data_calls = 0;
		int c = TRACED(accept(lfd, NULL, NULL));
		if (c < 0)
			die("accept");
		nodelay(c);
		for (;;) {
			ssize_t n = DATA(recv(c, &b, 1, 0));
			if (n <= 0)
				break;
			if (DATA(send(c, &b, 1, 0)) != 1)
				break;
		}
		TRACED(close(c));
		TRACED(close(lfd));
		send_report(out, 0, 0);
		_exit(0);
	}

	TRACED(close(lfd));
	int fd = TRACED(socket(AF_INET, SOCK_STREAM, 0));
	if (fd < 0 || TRACED(connect(fd, (struct sockaddr *)&addr, sizeof(addr))))
		die("connect");
	nodelay(fd);
	unsigned long long trips = 0;
	double start = now_s(), end = start + seconds, t = start;
	while (t < end) {
		for (int i = 0; i < 256; i++) {
			if (DATA(send(fd, &b, 1, 0)) != 1 || DATA(recv(fd, &b, 1, 0)) != 1)
				die("round trip");
			trips++;
		}
		t = now_s();
	}
	double elapsed = now_s() - start;
	TRACED(close(fd));
	waitpid(server, NULL, 0);
	send_report(out, trips, elapsed);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5;
	int pairs = argc > 2 ? atoi(argv[2]) : 4;
	int report[2];

	if (seconds <= 0 || seconds > 3600 || pairs < 1 || pairs > 64) {
		fprintf(stderr, "usage: ss-pingpong SECONDS [PAIRS] (0 < SECONDS <= 3600, 1 <= PAIRS <= 64)\n");
		return 2;
	}
	if (pipe(report))
		die("pipe");
	for (int i = 0; i < pairs; i++) {
		pid_t p = fork();
		if (p < 0)
			die("fork");
		if (p == 0) {
			close(report[0]);
			pair(seconds, report[1]);
			_exit(0);
		}
	}
	close(report[1]);

	/* two reports per pair: the client's (with its round trips) and the server's */
	struct report r, sum = {0};
	double longest = 0;
	int got = 0;
	while (read(report[0], &r, sizeof(r)) == sizeof(r)) {
		sum.trips += r.trips;
		sum.calls += r.calls;
		sum.data_calls += r.data_calls;
		if (r.seconds > longest)
			longest = r.seconds;
		got++;
	}
	int failed = 0, status;
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	if (failed || got != 2 * pairs) {
		fprintf(stderr, "ss-pingpong: a pair failed\n");
		return 1;
	}
	printf("{\"ops\":%llu,\"seconds\":%.6f,\"rate\":%.1f,\"unit\":\"round trips/s\",\"pairs\":%d,\"syscalls\":%llu,\"data_calls\":%llu,\"comm\":\"ss-pingpong\"}\n",
	       sum.trips, longest, sum.trips / longest, pairs, sum.calls, sum.data_calls);
	return 0;
}
