// SPDX-License-Identifier: MIT
/*
 * ss-udpflood: the worst case for a per-call tracer over UDP. A sender process fires 1-byte
 * datagrams with sendto() on an unconnected socket at a receiver on 127.0.0.1 for SECONDS
 * seconds; the receiver reads them with recvfrom() until the sender is done and the queue is
 * empty.
 *
 *   ss-udpflood SECONDS
 *
 * Prints one JSON line: datagrams sent and received, the receive rate (the throughput), and the
 * exact number of system calls it made that a network tracer sees (socket, bind, sendto,
 * recvfrom, close), by both processes together.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "ss-udpflood: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	int report[2];
	char b = 'x';

	if (seconds <= 0 || seconds > 3600) {
		fprintf(stderr, "usage: ss-udpflood SECONDS (0 < SECONDS <= 3600)\n");
		return 2;
	}
	if (pipe(report))
		die("pipe");
	int rfd = TRACED(socket(AF_INET, SOCK_DGRAM, 0));
	if (rfd < 0 || TRACED(bind(rfd, (struct sockaddr *)&addr, sizeof(addr))))
		die("bind");
	if (getsockname(rfd, (struct sockaddr *)&addr, &alen))
		die("getsockname");
	int rcvbuf = 4 << 20;
	setsockopt(rfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	setsockopt(rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	pid_t sender = fork();
	if (sender < 0)
		die("fork");
	if (sender == 0) {
		unsigned long long sent = 0;
		calls = data_calls = 0;
		TRACED(close(rfd));
		int s = TRACED(socket(AF_INET, SOCK_DGRAM, 0));
		if (s < 0)
			die("socket");
		double end = now_s() + seconds, t = 0;
		while (t < end) {
			for (int i = 0; i < 256; i++) {
				if (DATA(sendto(s, &b, 1, 0, (struct sockaddr *)&addr, sizeof(addr))) == 1)
					sent++;
			}
			t = now_s();
		}
		TRACED(close(s));
		unsigned long long msg[3] = { sent, calls, data_calls };
		if (write(report[1], msg, sizeof(msg)) != sizeof(msg))
			_exit(1);
		_exit(0);
	}

	/* Receive until the sender has exited and one more receive times out (the queue is empty). */
	unsigned long long received = 0, tick = 0;
	int done = 0, status = 0;
	double start = now_s(), last = start;
	struct sockaddr_in from;
	for (;;) {
		socklen_t flen = sizeof(from);
		ssize_t n = DATA(recvfrom(rfd, &b, 1, 0, (struct sockaddr *)&from, &flen));
		if (n == 1) {
			received++;
			last = now_s();
		}
		else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			die("recvfrom");
		else if (done)
			break;
		if (!done && (++tick % 1024 == 0 || n < 0))
			done = waitpid(sender, &status, WNOHANG) == sender;
	}
	/* the rate counts up to the last datagram, not the final timeout */
	double elapsed = last > start ? last - start : now_s() - start;
	TRACED(close(rfd));

	unsigned long long msg[3] = { 0, 0, 0 };
	if (read(report[0], msg, sizeof(msg)) != sizeof(msg))
		die("sender report");
	printf("{\"ops\":%llu,\"sent\":%llu,\"seconds\":%.6f,\"rate\":%.1f,\"unit\":\"datagrams received/s\",\"syscalls\":%llu,\"data_calls\":%llu,\"comm\":\"ss-udpflood\"}\n",
	       received, msg[0], elapsed, received / elapsed, calls + msg[1], data_calls + msg[2]);
	return 0;
}
