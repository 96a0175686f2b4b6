/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What every sysstream BPF object shares: the ring buffer and its loss accounting, the
 * process context of an event, and reading sockets, file descriptors and sockaddrs.
 * Each object that includes this gets its own copy of these maps.
 */
#ifndef SS_COMMON_BPF_H
#define SS_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "sysstream.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define PF_KTHREAD 0x00200000
#define MAX_IOV 8   /* iovec entries summed for req_bytes; more sets SS_EF_TRUNCATED */

/* Wake the reader once this many bytes are pending; set by user space before load. */
const volatile __u64 ss_wakeup_bytes = 256 * 1024;

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

/* The traced system calls by their x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
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

/* Calls that move bytes out of / into the socket (ss_func values). */
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
		/* &array: the read is sized by the destination, all 16 bytes */
		BPF_CORE_READ_INTO(&out->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&out->raddr, sk, __sk_common.skc_v6_daddr);
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
		__u32 n;
		if (len <= 2)
			return family;
		n = len > SS_UNIX_PATH_LEN + 2 ? SS_UNIX_PATH_LEN : len - 2;
		/* keep the clamped value in the register the verifier checks the size with */
		barrier_var(n);
		if (n > SS_UNIX_PATH_LEN)
			return family;
		bpf_probe_read_user(path, n, (const char *)uaddr + 2);
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

/* Writes one record; batches wake-ups: the reader is woken only once enough bytes
 * are pending and otherwise drains the buffer on its own poll timer. Only the record that
 * crosses a multiple of ss_wakeup_bytes wakes it: a wake-up is a self-IPI (a VM exit on a
 * virtual machine), and while the reader catches up every later record would send another. */
static __always_inline void ss_output(void *data, __u64 size, __u64 now, __u32 cpu)
{
	__u32 zero = 0;
	struct ss_stats *st = bpf_map_lookup_elem(&ss_stats, &zero);
	__u64 flags, avail;

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
	avail = bpf_ringbuf_query(&ss_events, BPF_RB_AVAIL_DATA);
	flags = avail / ss_wakeup_bytes != (avail + size) / ss_wakeup_bytes ?
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

#endif /* SS_COMMON_BPF_H */
