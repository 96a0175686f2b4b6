/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Who uses each IP socket, for the packet capture: the owner bookkeeping done at the entry and
 * exit of system calls (ss_own_enter, ss_own_exit) and by the packet object's own hooks.
 *
 * Two objects include this. capture.bpf.c calls it from its own sys_enter/sys_exit programs
 * when it runs alone (packets only). When system calls are captured too, the tracer's
 * sys_enter/sys_exit call it instead (trace.bpf.c, knob ss_track_owners) and user space hands
 * the tracer the capture object's maps (the owners, the threads' calls, the described processes,
 * and the ring and counters for the process descriptions): a second pair of hooks on every
 * system call of the host would cost that pair's invocation again on every call.
 *
 * The including object defines SS_OWN_RING and SS_OWN_STATS: the ring buffer the process
 * descriptions go to and the per-CPU counters its losses are counted in.
 */
#ifndef SS_OWNERS_BPF_H
#define SS_OWNERS_BPF_H

#include "common.bpf.h"
#include "filter.bpf.h"

/* Socket cookie -> its last user. LRU: sockets come and go without telling us. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct ss_sock_owner);
} ss_owners SEC(".maps");

/* Processes already described by an ss_proc_event: tgid -> start_ns. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} ss_cap_procs SEC(".maps");

/* A thread inside a system call on a socket, from entry to exit. What such a call sends leaves
 * in the caller's own context, so the packet hook can tie it to the call itself (a send, or a
 * receive that answers with an ACK) instead of to the socket's previous use. Task-local
 * storage: found without hashing, written in place, freed with the thread. */
struct cap_task {
	__u64 sk;                   /* the socket (struct sock address) of the call in progress; 0: none */
	__u64 cookie;               /* its cookie at entry (0: not assigned yet) */
	__u64 described;            /* start_ns of the process this thread last saw described; 0: none */
	struct ss_sock_owner owner; /* the caller, with this call and descriptor */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cap_task);
} ss_cap_tasks SEC(".maps");

/* kernfs_node.parent became __parent in 6.15. */
struct kernfs_node___pre615 {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *ss_kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___pre615 *)kn, parent);
}

/* Describes the current process once (per exec): its arguments and cgroup path, read here
 * because a short-lived client is often gone from /proc by the time its packets are written.
 * True when it is described (now or before); false when the ring had no room. */
static __always_inline bool ss_cap_describe(struct task_struct *task, __u32 tgid, __u64 start_ns)
{
	struct ss_proc_event *rec;
	struct kernfs_node *kn;
	unsigned long arg_start, arg_end, len;
	__u64 *known = bpf_map_lookup_elem(&ss_cap_procs, &tgid);
	__u32 zero = 0;
	struct ss_stats *st;

	if (known && *known == start_ns)
		return true;
	st = bpf_map_lookup_elem(&SS_OWN_STATS, &zero);
	if (!st)
		return false;
	rec = bpf_ringbuf_reserve(&SS_OWN_RING, sizeof(*rec), 0);
	if (!rec) {
		st->lost++;
		st->unreported++;
		return false;
	}
	rec->type = SS_CAPTURE_PROC;
	rec->pid = tgid;
	rec->ts_ns = bpf_ktime_get_ns();
	rec->start_ns = start_ns;
	rec->cgroup_id = bpf_get_current_cgroup_id();
	rec->cgroup_cut = 0;
	__builtin_memset(rec->_pad0, 0, sizeof(rec->_pad0));

	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	len = arg_end > arg_start ? arg_end - arg_start : 0;
	if (len > SS_CMDLINE_LEN)
		len = SS_CMDLINE_LEN;
	/* bounded above for the verifier; a failed read leaves no arguments */
	if (len == 0 || bpf_probe_read_user(rec->cmdline, len & (SS_CMDLINE_LEN * 2 - 1), (void *)arg_start))
		len = 0;
	rec->cmdline_len = len;

	/* The cgroup v2 path, leaf first, walking kernfs parents up to (not including) the root. */
	kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	rec->cgroup_depth = 0;
	for (int i = 0; i < SS_CGROUP_DEPTH; i++) {
		struct kernfs_node *parent;
		if (!kn)
			break;
		parent = ss_kn_parent(kn);
		if (!parent)
			break; /* kn is the root */
		if (bpf_probe_read_kernel_str(&rec->cgroup[i * SS_CGROUP_NAME_LEN], SS_CGROUP_NAME_LEN,
					      BPF_CORE_READ(kn, name)) < 0)
			rec->cgroup[i * SS_CGROUP_NAME_LEN] = 0;
		rec->cgroup_depth = i + 1;
		kn = parent;
	}
	if (rec->cgroup_depth == SS_CGROUP_DEPTH && kn && ss_kn_parent(kn))
		rec->cgroup_cut = 1;
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	st->events++;
	bpf_map_update_elem(&ss_cap_procs, &tgid, &start_ns, BPF_ANY);
	return true;
}

/* Describes the process of a thread that knows whether it did already: ss_cap_procs (a hash
 * lookup) is asked only the first time a thread uses a socket, and again after an exec. */
static __always_inline void ss_cap_describe_once(struct task_struct *task, struct cap_task *c)
{
	if (c->described && c->described == c->owner.start_ns)
		return;
	if (ss_cap_describe(task, c->owner.pid, c->owner.start_ns))
		c->described = c->owner.start_ns;
}

/* The system calls that use a socket's bytes or create its owner. */
static __always_inline __u8 ss_cap_func_of(__u8 f)
{
	return f == SS_FUNC_SOCKET || f == SS_FUNC_SOCKETPAIR || f == SS_FUNC_BIND ||
	       f == SS_FUNC_CLOSE || f == SS_FUNC_SHUTDOWN ? SS_FUNC_NONE : f;
}

static __always_inline bool ss_cap_is_inet(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;
	return family == AF_INET || family == AF_INET6;
}

/* The IP socket behind descriptor fd of task (NULL: none, or not IP). */
static __always_inline struct sock *ss_cap_inet_of_fd(struct task_struct *task, long fd)
{
	struct socket *sock = ss_socket_of_fd(task, fd);
	struct sock *sk;

	if (!sock)
		return NULL;
	sk = sock->sk;
	return sk && ss_cap_is_inet(sk) ? sk : NULL;
}

/* Fills o with the current process using the socket: call func on descriptor fd.
 * Process context only: every fact comes from `current`. */
static __always_inline void ss_cap_owner_now(struct ss_sock_owner *o, struct task_struct *task, long fd, __u8 func)
{
	struct task_struct *parent = task->real_parent;
	__u64 pid_tgid, uid_gid;

	ss_task_ids(task, &pid_tgid, &uid_gid);
	o->ts_ns = bpf_ktime_get_ns();
	o->start_ns = task->group_leader->start_boottime;
	o->cgroup_id = ss_task_cgroup_id(task);
	o->pid = pid_tgid >> 32;
	o->tid = (__u32)pid_tgid;
	o->ppid = parent->tgid;
	o->uid = (__u32)uid_gid;
	o->gid = uid_gid >> 32;
	o->fd = fd;
	o->netns = task->nsproxy->net_ns->ns.inum;
	o->func = func;
	o->matched = ss_proc_match(o->pid, o->uid);
	o->_pad0 = 0;
	/* both names are kept NUL-padded by the kernel (strscpy_pad) */
	__builtin_memcpy(o->comm, task->comm, SS_COMM_LEN);
	__builtin_memcpy(o->pcomm, parent->comm, SS_COMM_LEN);
}

static __always_inline bool ss_cap_same(const struct ss_sock_owner *a, const struct ss_sock_owner *b)
{
	return a->tid == b->tid && a->pid == b->pid && a->fd == b->fd && a->func == b->func;
}

/* Makes o the socket's last user. The same thread again with another call or descriptor is
 * written in place (a reader may then see one field of each: the same thread either way);
 * another thread replaces the entry whole. */
static __always_inline void ss_cap_set_owner(__u64 cookie, const struct ss_sock_owner *o)
{
	struct ss_sock_owner *old;

	if (!cookie)
		return;
	old = bpf_map_lookup_elem(&ss_owners, &cookie);
	if (!old) {
		bpf_map_update_elem(&ss_owners, &cookie, o, BPF_ANY);
		return;
	}
	if (ss_cap_same(old, o))
		return;
	if (old->tid == o->tid && old->pid == o->pid)
		*old = *o;
	else
		bpf_map_update_elem(&ss_owners, &cookie, o, BPF_ANY);
}

/* Records the current process as the socket's user. Called only in process context. */
static __always_inline void ss_cap_own(__u64 cookie, struct task_struct *task, long fd, __u8 func)
{
	struct ss_sock_owner *old, o;
	__u64 pid_tgid = (__u64)(__u32)task->tgid << 32 | (__u32)task->pid;
	struct cap_task *c;

	if (!cookie)
		return;
	/* The common case (the same thread again with the same call) costs one lookup. */
	old = bpf_map_lookup_elem(&ss_owners, &cookie);
	if (old && old->tid == (__u32)pid_tgid && old->fd == fd && old->func == func &&
	    old->pid == pid_tgid >> 32)
		return;
	ss_cap_owner_now(&o, task, fd, func);
	/* before the owner: packets that carry it come after its description in the ring */
	if (o.matched) {
		c = bpf_task_storage_get(&ss_cap_tasks, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if ((!c || !c->described || c->described != o.start_ns) &&
		    ss_cap_describe(task, o.pid, o.start_ns) && c)
			c->described = o.start_ns;
	}
	ss_cap_set_owner(cookie, &o);
}

/* The calls that move a socket's bytes (or connect it). */
static __always_inline __u8 ss_cap_io_func(__u8 f)
{
	f = ss_cap_func_of(f);

	return f == SS_FUNC_ACCEPT || f == SS_FUNC_ACCEPT4 || f == SS_FUNC_LISTEN ? SS_FUNC_NONE : f;
}

/*
 * The two entry points are global functions: the verifier checks each once, on its own, instead
 * of inside every path of the tracer's large programs that call them (which took capture's
 * launch from ~250 to ~600 ms). Their arguments are plain numbers for that reason.
 */

/* Entry of a call (func: ss_func_of of its number; di, dx: its first and third arguments) on an
 * IP socket: remember the call for the packets it sends, and make it the socket's last use at
 * once. */
__attribute__((noinline)) int ss_own_enter(__u32 func, long di, long dx)
{
	struct task_struct *task;
	struct cap_task *c;
	struct sock *sk;
	__u64 cookie;
	long fd;

	func = ss_cap_io_func(func);
	if (func == SS_FUNC_NONE)
		return 0;
	task = bpf_get_current_task_btf();
	if (task->flags & PF_KTHREAD)
		return 0;
	fd = di;
	sk = ss_cap_inet_of_fd(task, fd);
	/* splice(in, .., out, ..): the socket may be either end */
	if (!sk && func == SS_FUNC_SPLICE) {
		fd = dx;
		sk = ss_cap_inet_of_fd(task, fd);
	}
	if (!sk)
		return 0; /* file I/O and other families leave here */
	c = bpf_task_storage_get(&ss_cap_tasks, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c)
		return 0;
	ss_cap_owner_now(&c->owner, task, fd, func);
	if (!c->owner.matched) {
		c->sk = 0;
		return 0;
	}
	ss_cap_describe_once(task, c);
	/* Read, not assigned (the pointer is untrusted): a new socket gets its cookie with its first
	 * packet, and the packet hook records the owner then. */
	cookie = sk->__sk_common.skc_cookie.counter;
	c->cookie = cookie;
	c->sk = (__u64)sk;
	ss_cap_set_owner(cookie, &c->owner);
	return 0;
}

/* Exit of a call (func as above, di its first argument, ret what it returned): the call is
 * over. accept() moves no bytes, yet the handshake's packets belong to the listener and the
 * first ones of the new socket may come before its first receive: record the accepting process
 * for both. */
__attribute__((noinline)) int ss_own_exit(__u32 func, long di, long ret)
{
	struct task_struct *task;
	struct cap_task *c;
	struct sock *sk;
	long lfd;

	if (ss_cap_io_func(func) != SS_FUNC_NONE) {
		task = bpf_get_current_task_btf();
		c = bpf_task_storage_get(&ss_cap_tasks, task, 0, 0);
		if (c)
			c->sk = 0;
		return 0;
	}
	if ((func != SS_FUNC_ACCEPT && func != SS_FUNC_ACCEPT4) || ret < 0)
		return 0;
	task = bpf_get_current_task_btf();
	lfd = di;
	/* Cookies are read, not assigned (these pointers are untrusted). The listener's was
	 * assigned by its first SYN; a new socket's may still be 0. */
	sk = ss_cap_inet_of_fd(task, lfd);
	if (sk)
		ss_cap_own(sk->__sk_common.skc_cookie.counter, task, lfd, func);
	sk = ss_cap_inet_of_fd(task, ret);
	if (sk)
		ss_cap_own(sk->__sk_common.skc_cookie.counter, task, ret, func);
	return 0;
}

#endif /* SS_OWNERS_BPF_H */
