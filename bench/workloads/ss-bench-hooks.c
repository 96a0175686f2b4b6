// SPDX-License-Identifier: MIT
/*
 * ss-bench-hooks OBJECT: loads a BPF object, attaches every program in it, says "attached" on
 * stderr, and holds them until SIGTERM or SIGINT. The benchmark uses it with
 * ss-bench-hooks.bpf.o to measure the cost of the hooks alone.
 */
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;

	if (argc != 2) {
		fprintf(stderr, "usage: ss-bench-hooks OBJECT\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "ss-bench-hooks: cannot load %s\n", argv[1]);
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "ss-bench-hooks: cannot attach %s\n", bpf_program__name(prog));
			return 1;
		}
	}
	/* signals blocked except inside sigsuspend: none can slip in between the check and the wait */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	fprintf(stderr, "ss-bench-hooks: attached\n");
	while (!stop)
		sigsuspend(&old);
	bpf_object__close(obj);
	return 0;
}
