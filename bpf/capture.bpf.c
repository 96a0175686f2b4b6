// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * sysstream's packet capture: every IP packet into or out of a local socket, with the socket's
 * cookie and the process that last used that socket in process context.
 *
 * Packets: cgroup_skb/ingress and cgroup_skb/egress on the cgroup v2 root, so every socket of
 * every cgroup passes here, loopback included, with the socket known (bpf_get_socket_cookie).
 * These hooks run in softirq as often as not, in whatever task the CPU was running (on loopback
 * the receiver's path runs inside the sender's system call), so `current` is not taken for the
 * packet's process there, except when it is checked: the thread is inside a system call on that
 * very socket (ss_cap_tasks), which is how a send's packets leave.
 *
 * Owners: ss_owners maps a socket cookie to the process that last used the socket, written only
 * where the kernel runs in that process: sock_send_length/sock_recv_length (every send and
 * receive, io_uring included), inet_sock_set_state at SYN_SENT and LISTEN (connect, listen), the
 * entry of every call that moves a socket's bytes, and the return of accept/accept4 (the
 * listener and the new socket). Each packet carries a copy; a packet sent by a call in progress
 * (checked: the thread is inside a call on that very socket) carries that call.
 *
 * Cost: sys_enter and sys_exit run for every system call of the host (this object's own only
 * when packets are captured alone: with system calls, the tracer's hooks do this bookkeeping,
 * see owners.bpf.h), the packet hooks for every packet. Kernel structures are read with direct
 * BTF loads (a load each, where BPF_CORE_READ is a helper call each), the call in progress
 * lives in task-local storage updated in place (no hash update and delete per call), a
 * socket's owner is rewritten in place while the same thread keeps using it, and the reader is
 * woken once per ss_wakeup_bytes written by a CPU, never per record.
 */
#include "common.bpf.h"
#include "filter.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define TCP_SYN_SENT 2
#define TCP_LISTEN 10
#define SS_CAP_MAX (256 * 1024) /* largest record payload: the snap length's ceiling */

/* Bytes of each packet kept; set by user space before load (at most SS_CAP_MAX). */
const volatile __u32 ss_snaplen = SS_CAP_MAX;

/* A tracer runs beside (trace.bpf.c with ss_track_owners): this object's socket hooks also give
 * every socket its cookie, the job of the tracer's own cookie hooks, which are then not loaded
 * (one program per send and receive instead of two). */
const volatile bool ss_cap_cookies = false;

/* Keep the record types in BTF so user space can generate its structs from them. */
const struct ss_packet_event *ss_unused_packet __attribute__((unused));
const struct ss_sock_owner *ss_unused_owner __attribute__((unused));
const struct ss_proc_event *ss_unused_proc __attribute__((unused));
const struct ss_lost_event *ss_unused_cap_lost __attribute__((unused));
const struct ss_stats *ss_unused_cap_stats __attribute__((unused));
const enum ss_capture_type *ss_unused_ctype __attribute__((unused));
const enum ss_packet_dir *ss_unused_pdir __attribute__((unused));
const enum ss_packet_flags *ss_unused_pflags __attribute__((unused));

/* The device of a packet (for its network namespace); a kfunc every program type may call. */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* Bytes this CPU wrote to the ring buffer since it last woke the reader. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ss_cap_pending SEC(".maps");

/* The owners (ss_owners, ss_cap_tasks) and the bookkeeping at system calls. */
#define SS_OWN_RING ss_events
#define SS_OWN_STATS ss_stats
#include "owners.bpf.h"

/* After an exec the same process has other arguments: describe it again at its next use. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(ss_cap_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;
	struct cap_task *c;

	bpf_map_delete_elem(&ss_cap_procs, &tgid);
	/* the only thread left after an exec: its own note goes too */
	c = bpf_task_storage_get(&ss_cap_tasks, p, 0, 0);
	if (c)
		c->described = 0;
	return 0;
}

/* A socket used by the system call in progress (or by io_uring, with no call of its own):
 * finds the call and the descriptor from the task's registers. */
static __always_inline void ss_cap_used(struct sock *sk)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cap_task *c;
	struct pt_regs *regs;
	long nr, fd = -1;
	__u8 func;

	if (task->flags & PF_KTHREAD)
		return;
	/* The call in progress on this socket already made its caller the owner at entry (when
	 * the socket had its cookie then): nothing to do. */
	c = bpf_task_storage_get(&ss_cap_tasks, task, 0, 0);
	if (c && c->sk == (__u64)sk && c->cookie)
		return;
	if (!ss_cap_is_inet(sk))
		return; /* only IP sockets make packets */
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	nr = BPF_CORE_READ(regs, orig_ax);
	func = ss_cap_func_of(ss_func_of(nr));
	if (func != SS_FUNC_NONE) {
		long di = BPF_CORE_READ(regs, di);
		/* splice(in, .., out, ..): the socket may be either end */
		if ((__u64)ss_cap_inet_of_fd(task, di) == (__u64)sk)
			fd = di;
		else if (func == SS_FUNC_SPLICE &&
			 (__u64)ss_cap_inet_of_fd(task, BPF_CORE_READ(regs, dx)) == (__u64)sk)
			fd = BPF_CORE_READ(regs, dx);
	}
	ss_cap_own(bpf_get_socket_cookie(sk), task, fd, func);
}

/* For the tracer beside: assigned once per socket; after that a load. */
static __always_inline void ss_cap_cookie(struct sock *sk)
{
	if (ss_cap_cookies && !sk->__sk_common.skc_cookie.counter)
		bpf_get_socket_cookie(sk);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(ss_cap_send, struct sock *sk, int ret, int flags)
{
	ss_cap_cookie(sk);
	ss_cap_used(sk);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(ss_cap_recv, struct sock *sk, int ret, int flags)
{
	ss_cap_cookie(sk);
	ss_cap_used(sk);
	return 0;
}

/* connect() and listen() change the state inside the caller's system call: the SYN is sent
 * after this, so it already has its owner. Other transitions happen in softirq. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ss_cap_state, const struct sock *sk, const int oldstate, const int newstate)
{
	ss_cap_cookie((struct sock *)sk);
	if (newstate != TCP_SYN_SENT && newstate != TCP_LISTEN)
		return 0;
	ss_cap_used((struct sock *)sk);
	return 0;
}

/* Entry and exit of every system call of the host: the owner bookkeeping of owners.bpf.h.
 * Loaded only when the tracer's hooks do not run it (packets only). */
SEC("tp_btf/sys_enter")
int BPF_PROG(ss_cap_enter, struct pt_regs *regs, long id)
{
	/* regs is a trusted BTF pointer here: plain loads */
	ss_own_enter(ss_func_of(id), regs->di, regs->dx);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(ss_cap_exit, struct pt_regs *regs, long ret)
{
	/* regs is a trusted BTF pointer here: orig_ax is the call number */
	ss_own_exit(ss_func_of(regs->orig_ax), regs->di, ret);
	return 0;
}

/* ---------------------------------------------------------------- packets */

#define SS_SOCK_FILTERS (SS_FILTER_PORT | SS_FILTER_ADDR | SS_FILTER_FAMILY | SS_FILTER_PROTO)

/* The socket filters (port, address, family, protocol) on the packet's own header: the local
 * end is the source of what a socket sends and the destination of what it receives. */
static __always_inline bool ss_cap_sock_match(struct __sk_buff *skb, __u8 dir)
{
	struct ss_sock s = {};
	__u8 src[16] = {}, dst[16] = {};
	__u8 h[40];
	__u16 ports[2] = {};
	__u32 l4 = 0;

	if (bpf_skb_load_bytes(skb, 0, h, 20))
		return false;
	if ((h[0] >> 4) == 4) {
		__u32 a;
		s.family = AF_INET;
		s.protocol = h[9];
		__builtin_memcpy(&a, &h[12], 4);
		ss_v4_mapped(src, a);
		__builtin_memcpy(&a, &h[16], 4);
		ss_v4_mapped(dst, a);
		/* ports only in the first fragment */
		if (((h[6] & 0x1f) | h[7]) == 0)
			l4 = (h[0] & 0xf) * 4;
	} else if ((h[0] >> 4) == 6) {
		if (bpf_skb_load_bytes(skb, 0, h, 40))
			return false;
		s.family = AF_INET6;
		s.protocol = h[6]; /* extension headers are not walked: no ports then */
		__builtin_memcpy(src, &h[8], 16);
		__builtin_memcpy(dst, &h[24], 16);
		l4 = 40;
	} else {
		return false;
	}
	if (l4 && (s.protocol == IPPROTO_TCP || s.protocol == IPPROTO_UDP) &&
	    bpf_skb_load_bytes(skb, l4 & 0x7f, ports, 4) == 0) {
		ports[0] = bpf_ntohs(ports[0]);
		ports[1] = bpf_ntohs(ports[1]);
	}
	if (dir == SS_PACKET_EGRESS) {
		__builtin_memcpy(s.laddr, src, 16);
		__builtin_memcpy(s.raddr, dst, 16);
		s.lport = ports[0];
		s.rport = ports[1];
	} else {
		__builtin_memcpy(s.laddr, dst, 16);
		__builtin_memcpy(s.raddr, src, 16);
		s.lport = ports[1];
		s.rport = ports[0];
	}
	return ss_sock_match(&s);
}

/* One record: the header, then n bytes of the packet. bpf_ringbuf_reserve takes only constant
 * sizes, so the caller picks the smallest of a few fixed capacities that holds n; the bytes go
 * straight from the packet into the ring, with no copy through a scratch buffer. */
static __always_inline int ss_cap_emit(struct __sk_buff *skb, const struct ss_packet_event *hdr,
				       __u32 n, struct ss_stats *st, __u64 *pending, const __u32 cap)
{
	struct ss_packet_event *rec;
	__u64 flags = BPF_RB_NO_WAKEUP;

	/* One wake-up per ss_wakeup_bytes this CPU wrote: a wake-up is a self-IPI (a VM exit
	 * here), and querying the ring's fill level reads cache lines every CPU writes. */
	*pending += sizeof(*rec) + cap;
	if (*pending >= ss_wakeup_bytes) {
		*pending = 0;
		flags = BPF_RB_FORCE_WAKEUP;
	}
	rec = bpf_ringbuf_reserve(&ss_events, sizeof(*rec) + cap, 0);
	if (!rec) {
		st->lost++;
		st->unreported++;
		return 1;
	}
	__builtin_memcpy(rec, hdr, sizeof(*rec));
	if (n > cap)
		n = cap; /* bounds the copy for the verifier */
	if (n > 0 && bpf_skb_load_bytes(skb, 0, (void *)(rec + 1), n) != 0)
		n = 0;
	rec->cap_len = n;
	bpf_ringbuf_submit(rec, flags);
	st->events++;
	return 1;
}

static __always_inline int ss_cap_packet(struct __sk_buff *skb, __u8 dir)
{
	struct ss_packet_event hdr;
	struct ss_sock_owner *own;
	struct sk_buff *kskb;
	struct net_device *dev;
	struct ss_stats *st;
	__u64 cookie, *pending;
	__u32 zero = 0, n;

	if ((ss_filter_flags & SS_SOCK_FILTERS) && !ss_cap_sock_match(skb, dir))
		return 1;
	cookie = bpf_get_socket_cookie(skb);
	kskb = bpf_cast_to_kern_ctx(skb);
	own = NULL;
	if (dir == SS_PACKET_EGRESS) {
		/* Sent by a system call in progress on this very socket? Then `current` is its caller
		 * (checked: the thread is inside a call on this socket), and the packet is that call's. */
		struct task_struct *task = bpf_get_current_task_btf();
		struct cap_task *c = bpf_task_storage_get(&ss_cap_tasks, task, 0, 0);
		if (c && c->sk && c->sk == (__u64)kskb->sk) {
			own = &c->owner;
			/* sys_enter made the call the owner already, unless the socket had no cookie yet */
			if (cookie != c->cookie) {
				ss_cap_set_owner(cookie, own);
				c->cookie = cookie;
			}
		}
	}
	if (!own)
		own = bpf_map_lookup_elem(&ss_owners, &cookie);
	/* a known owner that fails the process filters: dropped here. Unknown owners go to user
	 * space, which looks again once the process has used the socket. */
	if (own && !own->matched)
		return 1;
	st = bpf_map_lookup_elem(&ss_stats, &zero);
	pending = bpf_map_lookup_elem(&ss_cap_pending, &zero);
	if (!st || !pending)
		return 1;

	__builtin_memset(&hdr, 0, sizeof(hdr));
	hdr.type = SS_CAPTURE_PACKET;
	hdr.dir = dir;
	hdr.cpu = bpf_get_smp_processor_id();
	hdr.ts_ns = bpf_ktime_get_ns();
	hdr.cookie = cookie;
	hdr.ifindex = skb->ifindex;
	hdr.len = skb->len;
	if (own) {
		hdr.owner = *own;
		hdr.flags |= SS_PF_OWNER;
	}
	dev = kskb->dev;
	if (dev) {
		hdr.netns = dev->nd_net.net->ns.inum;
		hdr.flags |= SS_PF_NETNS;
	}

	if (st->unreported) {
		struct ss_lost_event lost = {
			.type = SS_EVENT_LOST,
			.cpu = hdr.cpu,
			.ts_ns = hdr.ts_ns,
			.count = st->unreported,
		};
		if (bpf_ringbuf_output(&ss_events, &lost, sizeof(lost), BPF_RB_NO_WAKEUP) == 0)
			st->unreported = 0;
	}

	n = skb->len < ss_snaplen ? skb->len : ss_snaplen;
	if (n <= 128)
		return ss_cap_emit(skb, &hdr, n, st, pending, 128);
	if (n <= 256)
		return ss_cap_emit(skb, &hdr, n, st, pending, 256);
	if (n <= 512)
		return ss_cap_emit(skb, &hdr, n, st, pending, 512);
	if (n <= 1024)
		return ss_cap_emit(skb, &hdr, n, st, pending, 1024);
	if (n <= 2048)
		return ss_cap_emit(skb, &hdr, n, st, pending, 2048);
	if (n <= 4096)
		return ss_cap_emit(skb, &hdr, n, st, pending, 4096);
	if (n <= 8192)
		return ss_cap_emit(skb, &hdr, n, st, pending, 8192);
	if (n <= 16384)
		return ss_cap_emit(skb, &hdr, n, st, pending, 16384);
	if (n <= 32768)
		return ss_cap_emit(skb, &hdr, n, st, pending, 32768);
	if (n <= 65536)
		return ss_cap_emit(skb, &hdr, n, st, pending, 65536);
	if (n <= 131072)
		return ss_cap_emit(skb, &hdr, n, st, pending, 131072);
	return ss_cap_emit(skb, &hdr, n, st, pending, SS_CAP_MAX);
}

/* 1: let the packet pass. These programs only look. */
SEC("cgroup_skb/ingress")
int ss_cap_ingress(struct __sk_buff *skb)
{
	return ss_cap_packet(skb, SS_PACKET_INGRESS);
}

SEC("cgroup_skb/egress")
int ss_cap_egress(struct __sk_buff *skb)
{
	return ss_cap_packet(skb, SS_PACKET_EGRESS);
}
