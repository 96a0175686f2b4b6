// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Feature probes for `sysstream doctor`: one do-nothing program per hook kind.
 *
 * User space opens this object once per kind, enables just that program, loads it
 * and (where that is harmless) attaches it and detaches at once. A failure at load
 * or attach tells what the running kernel refuses. No maps: a probe must not need
 * anything but the hook under test.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* BTF raw tracepoint: what `trace` uses. */
SEC("tp_btf/sys_enter")
int ss_probe_tpbtf(void *ctx)
{
	return 0;
}

/* Raw tracepoint without BTF: a fallback for kernels with no vmlinux BTF. */
SEC("raw_tracepoint/sys_enter")
int ss_probe_rawtp(void *ctx)
{
	return 0;
}

/* Classic tracepoint: attaching needs tracefs (the event id is read from it). */
SEC("tracepoint/syscalls/sys_enter_connect")
int ss_probe_tp(void *ctx)
{
	return 0;
}

/* Needs CONFIG_KPROBES; __sys_connect is a stable, non-inlined symbol since 5.x. */
SEC("kprobe/__sys_connect")
int ss_probe_kprobe(void *ctx)
{
	return 0;
}

/* Needs BPF trampolines and a kernel not in integrity lockdown. */
SEC("fentry/__sys_connect")
int ss_probe_fentry(void *ctx)
{
	return 0;
}

/* BPF iterator (Linux 5.8+), attached over every task and detached at once: top reads its live
 * TCP counts with one (iter/bpf_sk_storage_map, which needs a map to attach). */
SEC("iter/task")
int ss_probe_iter(struct bpf_iter__task *ctx)
{
	return 0;
}

/* Loaded only: attaching would need a cgroup. 1 lets the packet pass. */
SEC("cgroup_skb/egress")
int ss_probe_cgskb(struct __sk_buff *skb)
{
	return 1;
}

/* Loaded only. map and serve attach this kind (sendmsg/recvmsg) to learn the peers of
 * unconnected UDP sockets. 1 lets the call go on, address unchanged. */
SEC("cgroup/sendmsg4")
int ss_probe_sockaddr(struct bpf_sock_addr *ctx)
{
	return 1;
}

/* Loaded only: attaching would need an interface. 0 is TC_ACT_OK. */
SEC("tc")
int ss_probe_tc(struct __sk_buff *skb)
{
	return 0;
}
