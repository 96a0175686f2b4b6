// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * sysstream's tracer core: every network system call, entry and return, with the
 * process and socket behind it.
 *
 * Hooks: tp_btf/sys_enter and tp_btf/sys_exit (BTF raw tracepoints), which every
 * kernel with BTF offers; kprobes and fentry are not needed. Every system call on
 * the host passes through them, so the syscall number is checked first thing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "sysstream.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define PF_KTHREAD 0x00200000
#define MAX_IOV 8   /* iovec entries summed for req_bytes; more sets SS_EF_TRUNCATED */
#define MAX_MMSG 16 /* mmsghdr entries summed at s/recvmmsg exit */

/* Run-time knobs, set by user space before load. */
const volatile __u32 ss_filter_flags = 0;
const volatile __u32 ss_filter_uid = 0;
const volatile __u16 ss_filter_family = 0;
const volatile __u16 ss_filter_proto = 0;
const volatile __u32 ss_self_pid = 0;
const volatile bool ss_no_enter = false;
const volatile __u64 ss_wakeup_bytes = 256 * 1024;

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

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024); /* user space may resize before load */
} ss_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_stats);
} ss_stats SEC(".maps");

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

/* Filters. Kinds are ANDed, entries within a kind ORed. */
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

static __always_inline bool ss_is_send(__u8 func)
{
	return func == SS_FUNC_SENDTO || func == SS_FUNC_SENDMSG || func == SS_FUNC_SENDMMSG ||
	       func == SS_FUNC_WRITE || func == SS_FUNC_WRITEV || func == SS_FUNC_SENDFILE;
}

static __always_inline bool ss_is_recv(__u8 func)
{
	return func == SS_FUNC_RECVFROM || func == SS_FUNC_RECVMSG || func == SS_FUNC_RECVMMSG ||
	       func == SS_FUNC_READ || func == SS_FUNC_READV;
}

static __always_inline struct socket *ss_socket_of_fd(struct task_struct *task, long fd)
{
	struct file *f = NULL;
	struct file **fds;
	struct fdtable *fdt;
	unsigned int max;
	umode_t mode;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return NULL;
	max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned long)fd >= max)
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	/* fd is bounded by max_fds above; the array is read, not walked as BTF. */
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	return (struct socket *)BPF_CORE_READ(f, private_data);
}

static __always_inline void ss_v4_mapped(__u8 out[16], __u32 be_addr)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(&out[12], &be_addr, 4);
}

static __always_inline void ss_unix_path_of(struct sock *sk, char *out)
{
	struct unix_address *ua;
	int len;

	if (!sk)
		return;
	ua = BPF_CORE_READ((struct unix_sock *)sk, addr);
	if (!ua)
		return;
	len = BPF_CORE_READ(ua, len) - 2; /* minus sun_family */
	if (len <= 0)
		return;
	if (len > SS_UNIX_PATH_LEN)
		len = SS_UNIX_PATH_LEN;
	bpf_probe_read_kernel(out, len & (SS_UNIX_PATH_LEN * 2 - 1), &ua->name[0].sun_path);
}

/* Reads the socket's facts now: never from a map filled at socket(), so sockets
 * older than the tracer resolve like new ones. Returns true for AF_UNIX. */
static __always_inline bool ss_read_sock(struct socket *sock, struct ss_sock *out,
					 struct ss_unix_paths *paths, __u32 *flags, __u8 func)
{
	struct sock *sk;

	if (!sock)
		return false;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return false;
	*flags |= SS_EF_SOCK;
	out->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	out->type = BPF_CORE_READ(sk, sk_type);
	out->protocol = BPF_CORE_READ(sk, sk_protocol);
	out->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	out->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (out->family == AF_INET) {
		ss_v4_mapped(out->laddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		ss_v4_mapped(out->raddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else if (out->family == AF_INET6) {
		BPF_CORE_READ_INTO(out->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(out->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else if (out->family == AF_UNIX) {
		ss_unix_path_of(sk, paths->local);
		ss_unix_path_of(BPF_CORE_READ((struct unix_sock *)sk, peer), paths->remote);
		return true;
	}
	out->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	out->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (out->protocol == IPPROTO_TCP) {
		struct tcp_sock *tp = (struct tcp_sock *)sk;
		if (ss_is_send(func)) {
			out->seq = BPF_CORE_READ(tp, write_seq);
			*flags |= SS_EF_SEQ;
		} else if (ss_is_recv(func)) {
			out->seq = BPF_CORE_READ(tp, copied_seq);
			*flags |= SS_EF_SEQ;
		}
	}
	return false;
}

/* Decodes a user sockaddr into an address/port pair (or a unix path).
 * Returns the family read, 0 if nothing usable. */
static __always_inline __u16 ss_read_sockaddr(const void *uaddr, long len, __u8 addr[16],
					      __u16 *port, char *path)
{
	struct sockaddr_in6 sa = {};
	__u16 family = 0;

	if (!uaddr || len < 2)
		return 0;
	if (bpf_probe_read_user(&family, sizeof(family), uaddr))
		return 0;
	if (family == AF_INET && len >= (long)sizeof(struct sockaddr_in)) {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;
		if (bpf_probe_read_user(in, sizeof(*in), uaddr))
			return 0;
		ss_v4_mapped(addr, in->sin_addr.s_addr);
		*port = bpf_ntohs(in->sin_port);
		return family;
	}
	if (family == AF_INET6 && len >= (long)sizeof(struct sockaddr_in6)) {
		if (bpf_probe_read_user(&sa, sizeof(sa), uaddr))
			return 0;
		__builtin_memcpy(addr, sa.sin6_addr.in6_u.u6_addr8, 16);
		*port = bpf_ntohs(sa.sin6_port);
		return family;
	}
	if (family == AF_UNIX) {
		long n = len - 2;
		if (n <= 0)
			return family;
		if (n > SS_UNIX_PATH_LEN)
			n = SS_UNIX_PATH_LEN;
		bpf_probe_read_user(path, n & (SS_UNIX_PATH_LEN * 2 - 1), (const char *)uaddr + 2);
		return family;
	}
	return 0;
}

static __always_inline __u64 ss_iov_sum(const struct iovec *iov, __u64 cnt, __u32 *flags)
{
	__u64 sum = 0;

	if (!iov)
		return 0;
	if (cnt > MAX_IOV)
		*flags |= SS_EF_TRUNCATED;
	for (int i = 0; i < MAX_IOV; i++) {
		struct iovec v;
		if (i >= cnt)
			break;
		if (bpf_probe_read_user(&v, sizeof(v), &iov[i]))
			break;
		sum += v.iov_len;
	}
	return sum;
}

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

/* Writes one record; batches wake-ups: the reader is woken only once enough bytes
 * are pending and otherwise drains the buffer on its own poll timer. */
static __always_inline void ss_output(void *data, __u64 size, __u64 now, __u32 cpu)
{
	__u32 zero = 0;
	struct ss_stats *st = bpf_map_lookup_elem(&ss_stats, &zero);
	__u64 flags;

	if (!st)
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
	flags = bpf_ringbuf_query(&ss_events, BPF_RB_AVAIL_DATA) + size >= ss_wakeup_bytes ?
			BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&ss_events, data, size, flags) == 0) {
		st->events++;
	} else {
		st->lost++;
		st->unreported++;
	}
}

static __always_inline void ss_fill_task(struct ss_syscall_event *e, struct task_struct *task,
					 __u64 pid_tgid, __u64 uid_gid)
{
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);

	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->ppid = BPF_CORE_READ(parent, tgid);
	BPF_CORE_READ_STR_INTO(&e->pcomm, parent, comm);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
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

/* With a process filter that follows children (`trace -- CMD`): new processes of
 * traced parents are traced too. Threads share the tgid and need nothing. */
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

	if (p->pid != tgid)
		return 0;
	/* keep explicitly requested pids: only followed children are forgotten */
	__u8 *v = bpf_map_lookup_elem(&ss_pids, &tgid);
	if (v && (*v & SS_PID_FOLLOW_CHILDREN))
		bpf_map_delete_elem(&ss_pids, &tgid);
	return 0;
}
