// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * sysstream's tracer core: every network system call, entry and return, with the
 * process and socket behind it.
 *
 * Hooks: tp_btf/sys_enter and tp_btf/sys_exit (BTF raw tracepoints), which every
 * kernel with BTF offers; kprobes and fentry are not needed. Every system call on
 * the host passes through them, so the syscall number is checked first thing.
 *
 * Cost per event matters more here than anywhere else: kernel structures are read with direct
 * BTF loads (a plain load each, where BPF_CORE_READ is a helper call each), pointers that are
 * not typed (fd table slots, private_data) are typed with bpf_rdonly_cast (6.2+, a no-op after
 * verification), and the state kept from entry to exit lives in task-local storage, updated
 * in place.
 */
#include "common.bpf.h"
#include "filter.bpf.h"


char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define MAX_MMSG 16 /* mmsghdr entries summed at s/recvmmsg exit */

/* Run-time knobs, set by user space before load. */
const volatile bool ss_no_enter = false;
/* Bit (1 << ss_func) set: trace that call. 0: trace every call (`trace --syscall`, `map`). */
const volatile __u32 ss_func_mask = 0;
/* Do the packet capture's owner bookkeeping here too (owners.bpf.h): set when `capture` records
 * system calls, with the owner maps, ring and counters handed over from the capture object. */
const volatile bool ss_track_owners = false;

/* Keep the record types in BTF so user space can generate its structs from them. */
const struct ss_syscall_event_unix *ss_unused_event __attribute__((unused));
const struct ss_lost_event *ss_unused_lost __attribute__((unused));
const struct ss_stats *ss_unused_stats __attribute__((unused));
const enum ss_event_type *ss_unused_type __attribute__((unused));
const enum ss_phase *ss_unused_phase __attribute__((unused));
const enum ss_func *ss_unused_func __attribute__((unused));
const enum ss_event_flags *ss_unused_eflags __attribute__((unused));
const enum ss_filter_flags *ss_unused_fflags __attribute__((unused));
const enum ss_pid_flags *ss_unused_pflags __attribute__((unused));

/* Records under construction per CPU, too large for the 512-byte stack: slot 0 for the call's
 * own event, slot 1 for an entry that sys_exit writes before its exit. */
#define TR_SLOT_EVENT 0
#define TR_SLOT_ENTRY 1
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct ss_syscall_event_unix);
} ss_scratch SEC(".maps");

/* What sys_exit needs from sys_enter, per thread: task-local storage, so the entry is found
 * without hashing, written in place, and freed with the thread (a thread killed inside a call
 * never reaches sys_exit). `active` says an entry is waiting for its exit. */
struct trace_inflight {
	__u64 ts_ns;
	__u64 args[6];
	__u64 req_bytes;
	__u64 arg;
	__u64 sock;              /* the struct socket * found at entry (0: none) */
	struct ss_sock sk;       /* facts known at entry (close: the last ones) */
	__u32 flags;
	__s32 fd;                /* the socket's descriptor found at entry */
	__u32 cpu;               /* the CPU it entered on */
	__u8 func;
	__u8 matched;            /* entry passed the filters: emit the exit too */
	__u8 has_paths;
	__u8 active;
	__u8 comm_known;         /* comm/comm_match below hold the last comm checked */
	__u8 comm_match;
	__u8 deferred;           /* the entry record is written with the exit (tr_wont_wait) */
	/* the thread's name when the comm filter last ran for it; compared as two u64 */
	char comm[SS_COMM_LEN] __attribute__((aligned(8)));
	struct ss_unix_paths paths;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct trace_inflight);
} ss_inflight SEC(".maps");

/* Bytes this CPU wrote to the ring buffer since it last woke the reader. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ss_tr_pending SEC(".maps");

/* Where the owner bookkeeping writes its process descriptions: the capture object's ring and
 * counters, handed over by user space with the maps of owners.bpf.h. Left small otherwise. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ss_own_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_stats);
} ss_own_stats SEC(".maps");

#define SS_OWN_RING ss_own_events
#define SS_OWN_STATS ss_own_stats
#include "owners.bpf.h"

/* ---------------------------------------------------------------- helpers */

/* Calls that are traced only when their descriptor is a socket, decided here so
 * that file I/O costs one map-free lookup and never reaches user space. */
static __always_inline bool ss_needs_socket_fd(__u8 func)
{
	return func == SS_FUNC_READ || func == SS_FUNC_WRITE || func == SS_FUNC_READV ||
	       func == SS_FUNC_WRITEV || func == SS_FUNC_CLOSE || func == SS_FUNC_SENDFILE ||
	       func == SS_FUNC_SPLICE;
}

/* Entries that could not be kept (no task storage): counted as lost, never silent. */
static __always_inline void tr_count_lost(void)
{
	__u32 zero = 0;
	struct ss_stats *st = bpf_map_lookup_elem(&ss_stats, &zero);

	if (st) {
		st->lost++;
		st->unreported++;
	}
}

/* Writes one record; batches wake-ups without a ring-buffer query per record (the producer
 * and consumer positions are cache lines every CPU and the reader write): each CPU counts what
 * it wrote and wakes the reader once per ss_wakeup_bytes of its own; the reader drains on its
 * timer as well. A loss is counted per CPU and announced by a lost record before the next
 * record that fits. */
static __always_inline void tr_output(void *data, __u64 size, __u64 now, __u32 cpu, __u32 events)
{
	__u32 zero = 0;
	struct ss_stats *st = bpf_map_lookup_elem(&ss_stats, &zero);
	__u64 *pending = bpf_map_lookup_elem(&ss_tr_pending, &zero);
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (!st || !pending)
		return;
	if (st->unreported) {
		struct ss_lost_event lost = {
			.type = SS_EVENT_LOST,
			.cpu = cpu,
			.ts_ns = now,
			.count = st->unreported,
		};
		if (bpf_ringbuf_output(&ss_events, &lost, sizeof(lost), BPF_RB_NO_WAKEUP) == 0)
			st->unreported = 0;
	}
	*pending += size;
	if (*pending >= ss_wakeup_bytes) {
		*pending = 0;
		flags = BPF_RB_FORCE_WAKEUP;
	}
	if (bpf_ringbuf_output(&ss_events, data, size, flags) == 0) {
		st->events += events;
	} else {
		st->lost += events;
		st->unreported += events;
	}
}

/* events: 2 for an exit record that stands for its entry too (SS_EF_WITH_ENTRY). */
static __always_inline void ss_emit(struct ss_syscall_event_unix *rec, bool is_unix, __u64 now, __u32 events)
{
	rec->ev.type = is_unix ? SS_EVENT_SYSCALL_UNIX : SS_EVENT_SYSCALL;
	tr_output(rec, is_unix ? sizeof(*rec) : sizeof(rec->ev), now, rec->ev.cpu, events);
}

/* The entry event of the call kept in `in`, as sys_enter saw it. */
static __always_inline void tr_emit_entry(struct trace_inflight *in, struct task_struct *task,
					  __u64 pid_tgid, __u64 uid_gid, __u32 cpu, __u32 slot, __u64 now)
{
	struct ss_syscall_event_unix *rec = bpf_map_lookup_elem(&ss_scratch, &slot);
	bool is_unix = in->has_paths;

	if (!rec)
		return;
	__builtin_memset(&rec->ev, 0, sizeof(rec->ev));
	rec->ev.phase = SS_PHASE_ENTER;
	rec->ev.func = in->func;
	rec->ev.cpu = cpu;
	rec->ev.ts_ns = in->ts_ns;
	rec->ev.fd = in->fd;
	rec->ev.req_bytes = in->req_bytes;
	rec->ev.arg = in->arg;
	rec->ev.flags = in->flags;
	rec->ev.sk = in->sk;
	if (is_unix)
		rec->paths = in->paths;
	ss_fill_task(&rec->ev, task, pid_tgid, uid_gid);
	ss_emit(rec, is_unix, now, 1);
}

#define TR_O_NONBLOCK 00004000
#define TR_MSG_DONTWAIT 0x40

/*
 * Calls that cannot wait: data calls on a non-blocking socket (or with MSG_DONTWAIT). Their
 * entry is not written at entry but with the exit, in one record (SS_EF_WITH_ENTRY) when the
 * exit shows the same facts: half the records, and the entry costs a few stores. A call that
 * may block keeps its entry record at entry, so a waiting call shows at once.
 */
static __always_inline bool tr_wont_wait(__u8 func, struct socket *sock, const __u64 *a)
{
	struct file *f;

	switch (func) {
	case SS_FUNC_SENDTO:
	case SS_FUNC_RECVFROM:
		if (a[3] & TR_MSG_DONTWAIT)
			return true;
		break;
	case SS_FUNC_SENDMSG:
	case SS_FUNC_RECVMSG:
		if (a[2] & TR_MSG_DONTWAIT)
			return true;
		break;
	case SS_FUNC_READ:
	case SS_FUNC_WRITE:
	case SS_FUNC_READV:
	case SS_FUNC_WRITEV:
	case SS_FUNC_SENDFILE:
		break;
	default:
		return false;
	}
	if (!sock)
		return false;
	f = sock->file;
	return f && (f->f_flags & TR_O_NONBLOCK);
}

_Static_assert(sizeof(struct ss_sock) % 8 == 0, "ss_sock is compared in 8-byte words");

static __always_inline bool tr_same_sock(const struct ss_sock *a, const struct ss_sock *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	__u64 diff = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*a) / 8); i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

/* With a comm filter, most threads making network calls do not match, and would pay a name
 * copy and a hash lookup per call. Their last verdict is kept with their name in task
 * storage: while the name is unchanged, a mismatch is rejected at two compares.
 * ss_proc_match stays the authority for everything that passes. */
static __always_inline bool tr_comm_rejected(struct task_struct *task, struct trace_inflight *in)
{
	__u64 *cached = (__u64 *)in->comm;
	__u64 c0, c1;

	__builtin_memcpy(&c0, &task->comm[0], 8);
	__builtin_memcpy(&c1, &task->comm[8], 8);
	if (!in->comm_known || cached[0] != c0 || cached[1] != c1) {
		cached[0] = c0;
		cached[1] = c1;
		in->comm_match = bpf_map_lookup_elem(&ss_comms, in->comm) != NULL;
		in->comm_known = 1;
	}
	return !in->comm_match;
}

/* ---------------------------------------------------------------- programs */

SEC("tp_btf/sys_enter")
int BPF_PROG(ss_sys_enter, struct pt_regs *regs, long id)
{
	__u8 func = ss_func_of(id);
	__u64 pid_tgid, uid_gid, now, a[6];
	struct trace_inflight *in;
	struct task_struct *task;
	struct socket *sock = NULL;
	long fd = -1;
	bool is_unix = false, match;

	if (func == SS_FUNC_NONE)
		return 0;
	if (ss_track_owners)
		ss_own_enter(func, regs->di, regs->dx);
	if (ss_func_mask && !(ss_func_mask & (1u << func)))
		return 0;
	task = bpf_get_current_task_btf();
	if (task->flags & PF_KTHREAD)
		return 0;
	in = NULL;
	if (ss_filter_flags & SS_FILTER_COMM) {
		in = bpf_task_storage_get(&ss_inflight, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (in && tr_comm_rejected(task, in))
			return 0;
	}
	ss_task_ids(task, &pid_tgid, &uid_gid);
	if (!ss_proc_match(pid_tgid >> 32, (__u32)uid_gid))
		return 0;

	/* regs is a trusted BTF pointer here: plain loads */
	a[0] = regs->di;
	a[1] = regs->si;
	a[2] = regs->dx;
	a[3] = regs->r10;
	a[4] = regs->r8;
	a[5] = regs->r9;

	if (func != SS_FUNC_SOCKET && func != SS_FUNC_SOCKETPAIR) {
		fd = (int)a[0];
		sock = ss_socket_of_fd(task, fd);
		/* sendfile(out, in) and splice(in, .., out): either end may be the socket */
		if (!sock && func == SS_FUNC_SENDFILE) {
			fd = (int)a[1];
			sock = ss_socket_of_fd(task, fd);
		} else if (!sock && func == SS_FUNC_SPLICE) {
			fd = (int)a[2];
			sock = ss_socket_of_fd(task, fd);
		}
		if (!sock && ss_needs_socket_fd(func))
			return 0;
	}

	if (!in)
		in = bpf_task_storage_get(&ss_inflight, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!in) {
		tr_count_lost();
		return 0;
	}
	/* Reused in place: clear what this call may not overwrite. Paths are only ever written
	 * when has_paths ends up set. */
	if (in->has_paths)
		__builtin_memset(&in->paths, 0, sizeof(in->paths));
	__builtin_memset(&in->sk, 0, sizeof(in->sk));
	in->req_bytes = 0;
	in->arg = 0;
	in->flags = 0;
	in->has_paths = 0;
	in->deferred = 0;
	now = bpf_ktime_get_ns();
	in->ts_ns = now;
	in->func = func;
	in->fd = fd;
	in->sock = (__u64)sock;
	__builtin_memcpy(in->args, a, sizeof(a));
	is_unix = ss_read_sock(sock, &in->sk, &in->paths, &in->flags, func);

	switch (func) {
	case SS_FUNC_SOCKET:
	case SS_FUNC_SOCKETPAIR:
		in->sk.family = a[0];
		in->sk.type = a[1] & 0xf; /* SOCK_TYPE_MASK; the rest are SOCK_NONBLOCK/CLOEXEC */
		in->sk.protocol = a[2];
		in->arg = a[1];
		break;
	case SS_FUNC_BIND: {
		__u8 addr[16] = {};
		__u16 port = 0;
		__u16 fam = ss_read_sockaddr((void *)a[1], a[2], addr, &port, in->paths.local);
		if (fam) {
			__builtin_memcpy(in->sk.laddr, addr, 16);
			in->sk.lport = port;
			in->flags |= SS_EF_LOCAL_FROM_ARGS;
			is_unix = fam == AF_UNIX;
		}
		break;
	}
	case SS_FUNC_CONNECT: {
		__u8 addr[16] = {};
		__u16 port = 0;
		__u16 fam = ss_read_sockaddr((void *)a[1], a[2], addr, &port, in->paths.remote);
		if (fam) {
			__builtin_memcpy(in->sk.raddr, addr, 16);
			in->sk.rport = port;
			in->flags |= SS_EF_PEER_FROM_ARGS;
			is_unix = fam == AF_UNIX;
		}
		break;
	}
	case SS_FUNC_SENDTO:
		in->req_bytes = a[2];
		if (a[4]) {
			__u8 addr[16] = {};
			__u16 port = 0;
			__u16 fam = ss_read_sockaddr((void *)a[4], a[5], addr, &port, in->paths.remote);
			if (fam) {
				__builtin_memcpy(in->sk.raddr, addr, 16);
				in->sk.rport = port;
				in->flags |= SS_EF_PEER_FROM_ARGS;
				is_unix = fam == AF_UNIX;
			}
		}
		break;
	case SS_FUNC_SENDMSG: {
		struct user_msghdr m = {};
		if (bpf_probe_read_user(&m, sizeof(m), (void *)a[1]))
			break;
		in->req_bytes = ss_iov_sum(m.msg_iov, m.msg_iovlen, &in->flags);
		if (m.msg_name) {
			__u8 addr[16] = {};
			__u16 port = 0;
			__u16 fam = ss_read_sockaddr(m.msg_name, m.msg_namelen, addr, &port,
						     in->paths.remote);
			if (fam) {
				__builtin_memcpy(in->sk.raddr, addr, 16);
				in->sk.rport = port;
				in->flags |= SS_EF_PEER_FROM_ARGS;
				is_unix = fam == AF_UNIX;
			}
		}
		break;
	}
	case SS_FUNC_RECVMSG: {
		struct user_msghdr m = {};
		if (bpf_probe_read_user(&m, sizeof(m), (void *)a[1]))
			break;
		in->req_bytes = ss_iov_sum(m.msg_iov, m.msg_iovlen, &in->flags);
		break;
	}
	case SS_FUNC_READ:
	case SS_FUNC_WRITE:
	case SS_FUNC_RECVFROM:
		in->req_bytes = a[2];
		break;
	case SS_FUNC_READV:
	case SS_FUNC_WRITEV:
		in->req_bytes = ss_iov_sum((const struct iovec *)a[1], a[2], &in->flags);
		break;
	case SS_FUNC_SENDFILE:
		in->req_bytes = a[3];
		in->arg = fd == (int)a[0] ? (int)a[1] : (int)a[0];
		break;
	case SS_FUNC_SPLICE:
		in->req_bytes = a[4];
		in->arg = fd == (int)a[0] ? (int)a[2] : (int)a[0];
		break;
	case SS_FUNC_SENDMMSG:
	case SS_FUNC_RECVMMSG:
		in->arg = a[2];
		break;
	case SS_FUNC_LISTEN:
	case SS_FUNC_SHUTDOWN:
		in->arg = a[1];
		break;
	case SS_FUNC_ACCEPT4:
		in->arg = a[3];
		break;
	}
	in->has_paths = is_unix;

	match = ss_sock_match(&in->sk);
	in->matched = match;
	in->active = 1;

	if (match && !ss_no_enter) {
		__u32 cpu = bpf_get_smp_processor_id();
		if (!is_unix && tr_wont_wait(func, sock, a)) {
			in->deferred = 1;
			in->cpu = cpu;
			return 0;
		}
		tr_emit_entry(in, task, pid_tgid, uid_gid, cpu, TR_SLOT_EVENT, now);
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(ss_sys_exit, struct pt_regs *regs, long ret)
{
	/* orig_ax is the call number: most calls on the host leave here, at one load and a
	 * few compares, before any lookup. */
	__u8 func = ss_func_of(regs->orig_ax);
	__u64 pid_tgid;
	__u32 zero = 0, eflags, cpu;
	struct ss_syscall_event_unix *rec;
	struct trace_inflight *in;
	struct task_struct *task;
	struct socket *sock = NULL;
	bool is_unix;
	long fd;
	__u64 now, uid_gid;

	if (func == SS_FUNC_NONE)
		return 0;
	if (ss_track_owners)
		ss_own_exit(func, regs->di, ret);
	task = bpf_get_current_task_btf();
	in = bpf_task_storage_get(&ss_inflight, task, 0, 0);
	/* Only threads that entered a traced call have an active entry, and the exit must be
	 * of the call that entered. */
	if (!in || !in->active)
		return 0;
	in->active = 0;
	if (in->func != func)
		return 0;
	rec = bpf_map_lookup_elem(&ss_scratch, &zero);
	if (!rec)
		return 0;
	ss_task_ids(task, &pid_tgid, &uid_gid);
	now = bpf_ktime_get_ns();
	__builtin_memset(&rec->ev, 0, sizeof(rec->ev));
	rec->ev.phase = SS_PHASE_EXIT;
	rec->ev.func = func;
	rec->ev.ts_ns = now;
	rec->ev.duration_ns = now - in->ts_ns;
	rec->ev.ret = ret;
	rec->ev.req_bytes = in->req_bytes;
	rec->ev.arg = in->arg;
	fd = (int)in->args[0];
	eflags = in->flags & (SS_EF_PEER_FROM_ARGS | SS_EF_LOCAL_FROM_ARGS | SS_EF_TRUNCATED);
	is_unix = in->has_paths;
	if (is_unix)
		rec->paths = in->paths;
	else
		__builtin_memset(&rec->paths, 0, sizeof(rec->paths));

	switch (func) {
	case SS_FUNC_SOCKET:
		if (ret >= 0) {
			fd = ret;
			sock = ss_socket_of_fd(task, fd);
		} else {
			fd = -1;
		}
		break;
	case SS_FUNC_SOCKETPAIR: {
		int sv[2] = {-1, -1};
		fd = -1;
		if (ret == 0 && !bpf_probe_read_user(sv, sizeof(sv), (void *)in->args[3])) {
			fd = sv[0];
			rec->ev.arg = sv[1];
			sock = ss_socket_of_fd(task, fd);
		}
		break;
	}
	case SS_FUNC_ACCEPT:
	case SS_FUNC_ACCEPT4:
		/* fd stays the listener; the new connection's facts come from the returned fd */
		if (ret >= 0)
			sock = ss_socket_of_fd(task, ret);
		break;
	case SS_FUNC_CLOSE:
		/* the descriptor is gone: keep what entry saw */
		break;
	default:
		/* The call held its file for its whole duration: the socket found at entry is the
		 * one it used (sendfile/splice: whichever end was the socket). */
		fd = in->fd;
		sock = SS_CAST(in->sock, struct socket);
		break;
	}
	rec->ev.fd = fd;

	if (func == SS_FUNC_CLOSE) {
		rec->ev.sk = in->sk;
		eflags |= in->flags;
	} else {
		struct ss_sock live = {};
		__u32 lflags = 0;
		if (ss_read_sock(sock, &live, &rec->paths, &lflags, func))
			is_unix = true;
		if (lflags & SS_EF_SOCK) {
			/* An unconnected or failed socket has no peer in struct sock: keep the
			 * call's sockaddr. Same for a local address given to a failed bind. */
			if ((eflags & SS_EF_PEER_FROM_ARGS) && live.rport == 0) {
				__builtin_memcpy(live.raddr, in->sk.raddr, 16);
				live.rport = in->sk.rport;
			} else {
				eflags &= ~SS_EF_PEER_FROM_ARGS;
			}
			if ((eflags & SS_EF_LOCAL_FROM_ARGS) && live.lport == 0 && in->sk.lport) {
				__builtin_memcpy(live.laddr, in->sk.laddr, 16);
				live.lport = in->sk.lport;
			} else {
				eflags &= ~SS_EF_LOCAL_FROM_ARGS;
			}
			/* the sequence number before the call is the one that locates its bytes */
			live.seq = in->sk.seq;
			eflags |= lflags | (in->flags & SS_EF_SEQ);
			rec->ev.sk = live;
		} else {
			rec->ev.sk = in->sk;
			eflags |= in->flags;
		}
	}

	/* Peers of unconnected sockets are only known once the call returns. */
	if (ret >= 0 && (func == SS_FUNC_RECVFROM || func == SS_FUNC_RECVMSG)) {
		void *name = NULL;
		long namelen = 0;
		if (func == SS_FUNC_RECVFROM) {
			int ulen = 0;
			name = (void *)in->args[4];
			if (name && !bpf_probe_read_user(&ulen, sizeof(ulen), (void *)in->args[5]))
				namelen = ulen;
		} else {
			struct user_msghdr m = {};
			if (!bpf_probe_read_user(&m, sizeof(m), (void *)in->args[1])) {
				name = m.msg_name;
				namelen = m.msg_namelen;
			}
		}
		if (name && namelen > 0) {
			__u8 addr[16] = {};
			__u16 port = 0;
			__u16 fam = ss_read_sockaddr(name, namelen, addr, &port, rec->paths.remote);
			if (fam == AF_INET || fam == AF_INET6) {
				__builtin_memcpy(rec->ev.sk.raddr, addr, 16);
				rec->ev.sk.rport = port;
				eflags |= SS_EF_PEER_FROM_ARGS;
			} else if (fam == AF_UNIX) {
				is_unix = true;
			}
		}
	}

	/* s/recvmmsg return a message count; the bytes are in each msg_len. */
	if (ret > 0 && (func == SS_FUNC_SENDMMSG || func == SS_FUNC_RECVMMSG)) {
		struct mmsghdr *mm = (struct mmsghdr *)in->args[1];
		__u64 sum = 0;
		if (ret > MAX_MMSG)
			eflags |= SS_EF_TRUNCATED;
		for (int i = 0; i < MAX_MMSG; i++) {
			unsigned int n = 0;
			if (i >= ret)
				break;
			if (bpf_probe_read_user(&n, sizeof(n), &mm[i].msg_len))
				break;
			sum += n;
		}
		rec->ev.req_bytes = sum;
	}
	rec->ev.flags = eflags;

	if (!in->matched && !ss_sock_match(&rec->ev.sk))
		return 0;

	cpu = bpf_get_smp_processor_id();
	rec->ev.cpu = cpu;
	ss_fill_task(&rec->ev, task, pid_tgid, uid_gid);
	if (in->deferred) {
		/* One record for both when the entry, rebuilt from the exit, is what sys_enter saw. */
		if (!is_unix && cpu == in->cpu && eflags == in->flags && tr_same_sock(&rec->ev.sk, &in->sk)) {
			rec->ev.flags |= SS_EF_WITH_ENTRY;
			ss_emit(rec, false, now, 2);
			return 0;
		}
		tr_emit_entry(in, task, pid_tgid, uid_gid, in->cpu, TR_SLOT_ENTRY, now);
	}
	ss_emit(rec, is_unix, now, 1);
	return 0;
}

/* Socket cookies are assigned lazily. These hooks see a trusted struct sock and
 * assign one early, so that sys_exit can read it from the socket. They run on every send
 * and receive: once a socket has its cookie, a load is all they cost. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ss_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (!sk->__sk_common.skc_cookie.counter)
		bpf_get_socket_cookie((void *)sk);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(ss_sock_send, struct sock *sk, int ret, int flags)
{
	if (!sk->__sk_common.skc_cookie.counter)
		bpf_get_socket_cookie(sk);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(ss_sock_recv, struct sock *sk, int ret, int flags)
{
	if (!sk->__sk_common.skc_cookie.counter)
		bpf_get_socket_cookie(sk);
	return 0;
}
