// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The floor of `sysstream top`, for the benchmark: the two BTF tracepoints that count its bytes
 * (every send and receive on a socket passes through them), with programs that do nothing.
 * What `top` costs above this is its own work.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("tp_btf/sock_send_length")
int BPF_PROG(ss_floor_send, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(ss_floor_recv, struct sock *sk, int ret, int flags)
{
	return 0;
}
