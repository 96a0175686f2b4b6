// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * sysstream's tracer core: every network system call, entry and return, with the
 * process and socket behind it.
 *
 * Hooks: tp_btf/sys_enter and tp_btf/sys_exit (BTF raw tracepoints), which every
 * kernel with BTF offers; kprobes and fentry are not needed. Every system call on
 * the host passes through them, so the syscall number is checked first thing.
 */
#include "common.bpf.h"
#include "filter.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define MAX_MMSG 16 /* mmsghdr entries summed at s/recvmmsg exit */

/* Run-time knobs, set by user space before load. */
const volatile bool ss_no_enter = false;
/* Bit (1 << ss_func) set: trace that call. 0: trace every call (`trace --syscall`, `map`). */
const volatile __u32 ss_func_mask = 0;

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

/* One record under construction per CPU: too large for the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_syscall_event_unix);
} ss_scratch SEC(".maps");

/* What sys_exit needs from sys_enter, per thread. LRU: a thread killed inside a
 * call never reaches sys_exit, and its entry must not leak. */
struct trace_inflight {
	__u64 ts_ns;
	__u64 args[6];
	__u64 req_bytes;
	__u64 arg;
	struct ss_sock sk;       /* facts known at entry (close: the last ones) */
	__u32 flags;
	__u8 func;
	__u8 matched;            /* entry passed the filters: emit the exit too */
	__u8 has_paths;
	__u8 _pad0;
	struct ss_unix_paths paths;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct trace_inflight);
} ss_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct trace_inflight);
} ss_inflight_scratch SEC(".maps");

/* ---------------------------------------------------------------- helpers */

/* x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
static __always_inline __u8 ss_func_of(long nr)
{
	switch (nr) {
	case 0: return SS_FUNC_READ;
	case 1: return SS_FUNC_WRITE;
	case 3: return SS_FUNC_CLOSE;
	case 19: return SS_FUNC_READV;
	case 20: return SS_FUNC_WRITEV;
	case 40: return SS_FUNC_SENDFILE;
	case 41: return SS_FUNC_SOCKET;
	case 42: return SS_FUNC_CONNECT;
	case 43: return SS_FUNC_ACCEPT;
	case 44: return SS_FUNC_SENDTO;
	case 45: return SS_FUNC_RECVFROM;
	case 46: return SS_FUNC_SENDMSG;
	case 47: return SS_FUNC_RECVMSG;
	case 48: return SS_FUNC_SHUTDOWN;
	case 49: return SS_FUNC_BIND;
	case 50: return SS_FUNC_LISTEN;
	case 53: return SS_FUNC_SOCKETPAIR;
	case 275: return SS_FUNC_SPLICE;
	case 288: return SS_FUNC_ACCEPT4;
	case 299: return SS_FUNC_RECVMMSG;
	case 307: return SS_FUNC_SENDMMSG;
	default: return SS_FUNC_NONE;
	}
}

/* Calls that are traced only when their descriptor is a socket, decided here so
 * that file I/O costs one map-free lookup and never reaches user space. */
static __always_inline bool ss_needs_socket_fd(__u8 func)
{
	return func == SS_FUNC_READ || func == SS_FUNC_WRITE || func == SS_FUNC_READV ||
	       func == SS_FUNC_WRITEV || func == SS_FUNC_CLOSE || func == SS_FUNC_SENDFILE ||
	       func == SS_FUNC_SPLICE;
}

static __always_inline void ss_emit(struct ss_syscall_event_unix *rec, bool is_unix, __u64 now)
{
	rec->ev.type = is_unix ? SS_EVENT_SYSCALL_UNIX : SS_EVENT_SYSCALL;
	ss_output(rec, is_unix ? sizeof(*rec) : sizeof(rec->ev), now, rec->ev.cpu);
}

/* ---------------------------------------------------------------- programs */

SEC("tp_btf/sys_enter")
int BPF_PROG(ss_sys_enter, struct pt_regs *regs, long id)
{
	__u8 func = ss_func_of(id);
	__u32 zero = 0, tid;
	__u64 pid_tgid, uid_gid, now, a[6];
	struct trace_inflight *in;
	struct task_struct *task;
	struct socket *sock = NULL;
	long fd = -1;
	bool is_unix = false, match;

	if (func == SS_FUNC_NONE)
		return 0;
	if (ss_func_mask && !(ss_func_mask & (1u << func)))
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	uid_gid = bpf_get_current_uid_gid();
	if (!ss_proc_match(pid_tgid >> 32, (__u32)uid_gid))
		return 0;
	task = bpf_get_current_task_btf();
	if (task->flags & PF_KTHREAD)
		return 0;

	a[0] = BPF_CORE_READ(regs, di);
	a[1] = BPF_CORE_READ(regs, si);
	a[2] = BPF_CORE_READ(regs, dx);
	a[3] = BPF_CORE_READ(regs, r10);
	a[4] = BPF_CORE_READ(regs, r8);
	a[5] = BPF_CORE_READ(regs, r9);

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

	in = bpf_map_lookup_elem(&ss_inflight_scratch, &zero);
	if (!in)
		return 0;
	__builtin_memset(in, 0, sizeof(*in));
	now = bpf_ktime_get_ns();
	in->ts_ns = now;
	in->func = func;
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
	tid = (__u32)pid_tgid;
	bpf_map_update_elem(&ss_inflight, &tid, in, BPF_ANY);

	if (match && !ss_no_enter) {
		struct ss_syscall_event_unix *rec = bpf_map_lookup_elem(&ss_scratch, &zero);
		if (!rec)
			return 0;
		__builtin_memset(&rec->ev, 0, sizeof(rec->ev));
		rec->ev.phase = SS_PHASE_ENTER;
		rec->ev.func = func;
		rec->ev.cpu = bpf_get_smp_processor_id();
		rec->ev.ts_ns = now;
		rec->ev.fd = fd;
		rec->ev.req_bytes = in->req_bytes;
		rec->ev.arg = in->arg;
		rec->ev.flags = in->flags;
		rec->ev.sk = in->sk;
		if (is_unix)
			rec->paths = in->paths;
		ss_fill_task(&rec->ev, task, pid_tgid, uid_gid);
		ss_emit(rec, is_unix, now);
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(ss_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, zero = 0, eflags;
	struct ss_syscall_event_unix *rec;
	struct trace_inflight *in;
	struct task_struct *task;
	struct socket *sock = NULL;
	bool is_unix;
	long fd;
	__u64 now, uid_gid;
	__u8 func;

	/* A cheap hash lookup instead of decoding orig_ax: only threads that entered a
	 * traced call have an entry. */
	in = bpf_map_lookup_elem(&ss_inflight, &tid);
	if (!in)
		return 0;
	func = in->func;
	/* The exit must be of the call we saw enter (orig_ax is the call number). */
	if (ss_func_of(BPF_CORE_READ(regs, orig_ax)) != func) {
		bpf_map_delete_elem(&ss_inflight, &tid);
		return 0;
	}
	rec = bpf_map_lookup_elem(&ss_scratch, &zero);
	if (!rec) {
		bpf_map_delete_elem(&ss_inflight, &tid);
		return 0;
	}
	now = bpf_ktime_get_ns();
	task = bpf_get_current_task_btf();
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
	rec->paths = in->paths;

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
	case SS_FUNC_SENDFILE:
	case SS_FUNC_SPLICE:
		fd = in->arg == (int)in->args[0] ? (func == SS_FUNC_SENDFILE ? (int)in->args[1] : (int)in->args[2]) : (int)in->args[0];
		sock = ss_socket_of_fd(task, fd);
		break;
	default:
		sock = ss_socket_of_fd(task, fd);
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

	if (!in->matched && !ss_sock_match(&rec->ev.sk)) {
		bpf_map_delete_elem(&ss_inflight, &tid);
		return 0;
	}
	bpf_map_delete_elem(&ss_inflight, &tid);

	uid_gid = bpf_get_current_uid_gid();
	rec->ev.cpu = bpf_get_smp_processor_id();
	ss_fill_task(&rec->ev, task, pid_tgid, uid_gid);
	ss_emit(rec, is_unix, now);
	return 0;
}

/* Socket cookies are assigned lazily. These hooks see a trusted struct sock and
 * assign one early, so that sys_exit can read it from the socket. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ss_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	bpf_get_socket_cookie((void *)sk);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(ss_sock_send, struct sock *sk, int ret, int flags)
{
	bpf_get_socket_cookie(sk);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(ss_sock_recv, struct sock *sk, int ret, int flags)
{
	bpf_get_socket_cookie(sk);
	return 0;
}
