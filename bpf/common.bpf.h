/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What every sysstream BPF object shares: the ring buffer and its loss accounting, the
 * process context of an event, and reading sockets, file descriptors and sockaddrs.
 * Each object that includes this gets its own copy of these maps.
 *
 * The readers are for BTF programs (tp_btf): kernel structures are read with direct loads, one
 * load each where BPF_CORE_READ makes a helper call per field; pointers the verifier knows
 * nothing about (fd table slots, private_data) or knows as another type are typed with
 * SS_CAST (bpf_rdonly_cast, 6.2+: a no-op after verification, loads fault safely).
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

extern void *bpf_rdonly_cast(const void *obj__ign, __u32 btf_id__k) __ksym;
#define SS_CAST(ptr, type) ((type *)bpf_rdonly_cast((const void *)(ptr), bpf_core_type_id_kernel(type)))

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

/* The socket behind descriptor fd of task, or NULL (not a socket). One helper call: the fd table
 * slot, an untyped pointer to the verifier. */
static __always_inline struct socket *ss_socket_of_fd(struct task_struct *task, long fd)
{
	struct files_struct *files;
	struct fdtable *fdt;
	struct file *f = NULL;
	struct file **fds;

	if (fd < 0)
		return NULL;
	files = task->files;
	if (!files)
		return NULL;
	fdt = files->fdt;
	if (!fdt || (unsigned long)fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	/* fd is bounded by max_fds above. The array's slots are untyped to the verifier: the slot is
	 * read as the one pointer of a struct llist_node, a load (which faults safely) instead of a
	 * bpf_probe_read_kernel call. */
	f = (struct file *)SS_CAST(&fds[fd], struct llist_node)->next;
	if (!f)
		return NULL;
	f = SS_CAST(f, struct file);
	if ((f->f_inode->i_mode & S_IFMT) != S_IFSOCK)
		return NULL;
	return SS_CAST(f->private_data, struct socket);
}

static __always_inline void ss_v4_mapped(__u8 out[16], __u32 be_addr)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(&out[12], &be_addr, 4);
}

static __always_inline void ss_unix_path_of(struct unix_sock *us, char *out)
{
	struct unix_address *ua;
	__u32 len;

	if (!us)
		return;
	ua = us->addr;
	if (!ua)
		return;
	len = ua->len;
	if (len <= 2) /* sun_family only: unnamed */
		return;
	len -= 2;
	if (len > SS_UNIX_PATH_LEN)
		len = SS_UNIX_PATH_LEN;
	/* keep the clamped value in the register the verifier checks the size with */
	barrier_var(len);
	bpf_probe_read_kernel(out, len, &ua->name[0].sun_path);
}

/* Reads the socket's facts now: never from a map filled at socket(), so sockets
 * older than the tracer resolve like new ones. Returns true for AF_UNIX. */
static __always_inline bool ss_read_sock(struct socket *sock, struct ss_sock *out,
					 struct ss_unix_paths *paths, __u32 *flags, __u8 func)
{
	struct sock *sk;

	if (!sock)
		return false;
	sk = sock->sk;
	if (!sk)
		return false;
	*flags |= SS_EF_SOCK;
	out->family = sk->__sk_common.skc_family;
	out->type = sk->sk_type;
	out->protocol = sk->sk_protocol;
	out->state = sk->__sk_common.skc_state;
	out->cookie = sk->__sk_common.skc_cookie.counter;
	if (out->family == AF_INET) {
		ss_v4_mapped(out->laddr, sk->__sk_common.skc_rcv_saddr);
		ss_v4_mapped(out->raddr, sk->__sk_common.skc_daddr);
	} else if (out->family == AF_INET6) {
		__builtin_memcpy(out->laddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(out->raddr, &sk->__sk_common.skc_v6_daddr, 16);
	} else if (out->family == AF_UNIX) {
		struct unix_sock *us = SS_CAST(sk, struct unix_sock);
		ss_unix_path_of(us, paths->local);
		ss_unix_path_of(SS_CAST(us->peer, struct unix_sock), paths->remote);
		return true;
	}
	out->lport = sk->__sk_common.skc_num;
	out->rport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (out->protocol == IPPROTO_TCP) {
		struct tcp_sock *tp = SS_CAST(sk, struct tcp_sock);
		if (ss_is_send(func)) {
			out->seq = tp->write_seq;
			*flags |= SS_EF_SEQ;
		} else if (ss_is_recv(func)) {
			out->seq = tp->copied_seq;
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

/* What bpf_get_current_pid_tgid() and bpf_get_current_uid_gid() answer, read straight from
 * the (current) task: loads instead of two helper calls, which cost far more than a load where
 * every call and return pays for speculation mitigations. */
static __always_inline void ss_task_ids(struct task_struct *task, __u64 *pid_tgid, __u64 *uid_gid)
{
	const struct cred *cred = task->cred;

	*pid_tgid = (__u64)(__u32)task->tgid << 32 | (__u32)task->pid;
	*uid_gid = cred ? (__u64)cred->gid.val << 32 | cred->uid.val : 0;
}

/* What bpf_get_current_cgroup_id() answers for the task: its cgroup v2 id, read by loads. */
static __always_inline __u64 ss_task_cgroup_id(struct task_struct *task)
{
	struct css_set *cset = task->cgroups;
	struct cgroup *cgrp;
	struct kernfs_node *kn;

	if (!cset)
		return 0;
	cgrp = cset->dfl_cgrp;
	if (!cgrp)
		return 0;
	kn = cgrp->kn;
	return kn ? kn->id : 0;
}

/* The process context of an event. */
static __always_inline void ss_fill_task(struct ss_syscall_event *e, struct task_struct *task,
					 __u64 pid_tgid, __u64 uid_gid)
{
	struct task_struct *parent = task->real_parent;

	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->ppid = parent->tgid;
	/* both names are kept NUL-padded by the kernel (strscpy_pad) */
	__builtin_memcpy(e->pcomm, parent->comm, SS_COMM_LEN);
	__builtin_memcpy(e->comm, task->comm, SS_COMM_LEN);
	e->cgroup_id = ss_task_cgroup_id(task);
	e->netns = task->nsproxy->net_ns->ns.inum;
}

#endif /* SS_COMMON_BPF_H */
