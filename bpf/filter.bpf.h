/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The filters of `trace`, `top` and the other views, applied in the kernel. User space sets
 * the knobs before load and fills the maps after (Bpf/FilterSetup.cs). Kinds are ANDed,
 * values within a kind ORed.
 */
#ifndef SS_FILTER_BPF_H
#define SS_FILTER_BPF_H

#include "common.bpf.h"

const volatile __u32 ss_filter_flags = 0;
const volatile __u32 ss_filter_uid = 0;
const volatile __u16 ss_filter_family = 0;
const volatile __u16 ss_filter_proto = 0;
const volatile __u32 ss_self_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);   /* tgid */
	__type(value, __u8);  /* ss_pid_flags */
} ss_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, char[SS_COMM_LEN]);
	__type(value, __u8);
} ss_comms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);   /* host order */
	__type(value, __u8);
} ss_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u8[16]); /* IPv4 as ::ffff:a.b.c.d */
	__type(value, __u8);
} ss_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ss_cgroup SEC(".maps");

static __always_inline bool ss_proc_match(__u32 tgid, __u32 uid)
{
	if (tgid == ss_self_pid)
		return false;
	if ((ss_filter_flags & SS_FILTER_PID) && !bpf_map_lookup_elem(&ss_pids, &tgid))
		return false;
	if ((ss_filter_flags & SS_FILTER_UID) && uid != ss_filter_uid)
		return false;
	if (ss_filter_flags & SS_FILTER_COMM) {
		char comm[SS_COMM_LEN] = {};
		bpf_get_current_comm(comm, sizeof(comm));
		if (!bpf_map_lookup_elem(&ss_comms, comm))
			return false;
	}
	if ((ss_filter_flags & SS_FILTER_CGROUP) && bpf_current_task_under_cgroup(&ss_cgroup, 0) != 1)
		return false;
	return true;
}

static __always_inline bool ss_sock_match(const struct ss_sock *sk)
{
	if ((ss_filter_flags & SS_FILTER_FAMILY) && sk->family != ss_filter_family)
		return false;
	if ((ss_filter_flags & SS_FILTER_PROTO) && sk->protocol != ss_filter_proto)
		return false;
	if (ss_filter_flags & SS_FILTER_PORT) {
		__u16 l = sk->lport, r = sk->rport;
		if (!bpf_map_lookup_elem(&ss_ports, &l) && !bpf_map_lookup_elem(&ss_ports, &r))
			return false;
	}
	if (ss_filter_flags & SS_FILTER_ADDR) {
		if (!bpf_map_lookup_elem(&ss_addrs, sk->laddr) &&
		    !bpf_map_lookup_elem(&ss_addrs, sk->raddr))
			return false;
	}
	return true;
}

/* With a process filter that follows children (`trace -- CMD`): new processes of traced
 * parents are traced too. Threads share the tgid and need nothing. Programs that include this
 * get these two hooks; user space enables them only when following children. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(ss_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u8 *v, val;

	if (ptgid == ctgid)
		return 0;
	v = bpf_map_lookup_elem(&ss_pids, &ptgid);
	if (!v || !(*v & SS_PID_FOLLOW_CHILDREN))
		return 0;
	val = *v;
	bpf_map_update_elem(&ss_pids, &ctgid, &val, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ss_exit, struct task_struct *p)
{
	__u32 tgid = p->tgid;
	__u8 *v;

	if (p->pid != tgid)
		return 0;
	/* keep explicitly requested pids: only followed children are forgotten */
	v = bpf_map_lookup_elem(&ss_pids, &tgid);
	if (v && (*v & SS_PID_FOLLOW_CHILDREN))
		bpf_map_delete_elem(&ss_pids, &tgid);
	return 0;
}

#endif /* SS_FILTER_BPF_H */
