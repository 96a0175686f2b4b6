// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * `sysstream top` and `sysstream netstat`: who is using the network, aggregated in the kernel.
 *
 * No record per event: every hook adds to two maps that user space reads on its timer.
 *   ss_top_procs  per process (tgid + start time), one value per CPU: bytes, calls, connects,
 *                 failed connects, resets, retransmits, and the process's facts.
 *   ss_top_conns  per socket (cookie): tuple, state, owner, bytes, calls, RTT, retransmits.
 *   ss_top_peers  per unconnected UDP socket and peer (only with ss_top_peers_on, for `map`):
 *                 bytes and datagrams each way, and which side sent first.
 *
 * Process context (`current`) is trusted only where the kernel runs in the caller's system
 * call: sock_send_length/sock_recv_length, CLOSE -> SYN_SENT (connect), sched_process_*. On
 * loopback the peer's softirq work runs inside the sender's call, so state changes, resets and
 * retransmits are keyed by the socket cookie and charged to the connection's owner.
 */
#include "common.bpf.h"
#include "filter.bpf.h"

/* Kernel structures are read with direct BTF loads in the tp_btf programs (one load each, where
 * BPF_CORE_READ is a helper call each): the byte hooks run for every send and receive. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define MSG_PEEK 2
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7

/* Count unix-domain sockets too (off: only IPv4/IPv6). Set by user space before load. */
const volatile bool ss_top_unix = false;

/* Count unconnected UDP traffic per peer too (ss_top_peers). Off, the verifier drops that path
 * from the byte hooks, and user space leaves the cgroup sendmsg/recvmsg programs unloaded. */
const volatile bool ss_top_peers_on = false;

/* Count TCP bytes in socket-local storage (ss_top_live), read by the iterator ss_top_live_iter.
 * Off (a kernel without sk storage iterators), every call adds to the row as it did. */
const volatile bool ss_top_live_on = false;

/* How long a TCP socket's row may lag behind its live counts while the socket is used: the row
 * also keeps the socket's state, RTT and retransmits current, and its place in the LRU. */
#define TOP_SYNC_NS 100000000ULL

/* Calls a TCP socket makes, counted in its row, before it gets live counts: their storage costs
 * an allocation at the first and a free at the socket's end, which short connections (one
 * request each) would pay for nothing. */
#define TOP_LIVE_AFTER_CALLS 8

/* Keep the record types in BTF so user space can generate its structs from them. */
const struct ss_top_pkey *ss_unused_top_pkey __attribute__((unused));
const struct ss_top_proc *ss_unused_top_proc __attribute__((unused));
const struct ss_top_cur *ss_unused_top_cur __attribute__((unused));
const struct ss_top_conn *ss_unused_top_conn __attribute__((unused));
const struct ss_top_live *ss_unused_top_live __attribute__((unused));
const enum ss_top_conn_flags *ss_unused_top_cflags __attribute__((unused));
const struct ss_top_peer_key *ss_unused_top_peer_key __attribute__((unused));
const struct ss_top_peer *ss_unused_top_peer __attribute__((unused));
const enum ss_top_peer_flags *ss_unused_top_pflags __attribute__((unused));

/* Per CPU: no lock and no shared cache line on the byte path. LRU: a host with more processes
 * than this forgets the least recently active ones instead of failing. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 8192);  /* user space may resize before load */
	__type(key, struct ss_top_pkey);
	__type(value, struct ss_top_proc);
} ss_top_procs SEC(".maps");

/* Each CPU's current process and what it has not yet added to its row (see sysstream.h): a
 * process that keeps calling on the same CPU costs no hash lookup per call. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_top_cur);
} ss_top_cur SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* user space may resize before load */
	__type(key, __u64);
	__type(value, struct ss_top_conn);
} ss_top_conns SEC(".maps");

/* Per (unconnected UDP socket, peer): bounded; the least recently used peers go first. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* user space may resize before load */
	__type(key, struct ss_top_peer_key);
	__type(value, struct ss_top_peer);
} ss_top_peers SEC(".maps");

/* The peer of the datagram a UDP socket is sending or receiving now, noted by the cgroup
 * sendmsg/recvmsg hooks and taken by the byte hooks later in the same system call. Internal:
 * no ss_ prefix, so it is not generated for user space. */
struct top_note {
	__u64 pid_tgid;   /* the thread whose call noted it; 0 once taken */
	__u8 addr[16];    /* IPv4 as ::ffff:a.b.c.d */
	__u16 port;       /* host order */
	__u16 _pad0;
	__u32 _pad1;
};

/* Socket-local storage: found through the socket itself (no hash lookup) and freed with it. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct top_note);
} ss_top_note SEC(".maps");

/* A TCP socket's live counts (see sysstream.h), created once it has made a few calls. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ss_top_live);
} ss_top_live SEC(".maps");

/* ---------------------------------------------------------------- helpers */

static __always_inline bool top_family_wanted(__u16 family)
{
	return family == AF_INET || family == AF_INET6 || (family == AF_UNIX && ss_top_unix);
}

/* The process key of a task: its tgid and its group leader's start time, so a reused pid is a
 * new row and an exited process keeps its own. */
static __always_inline void top_pkey_of(struct task_struct *task, struct ss_top_pkey *key)
{
	key->tgid = task->tgid;
	key->_pad0 = 0;
	key->start_ns = task->group_leader->start_boottime;
}

/* This CPU's copy of a process's value; created (zeroed on every CPU) when missing. */
static __always_inline struct ss_top_proc *top_proc(const struct ss_top_pkey *key)
{
	struct ss_top_proc *p = bpf_map_lookup_elem(&ss_top_procs, key);
	struct ss_top_proc zero = {};

	if (p)
		return p;
	/* NOEXIST: another CPU may have created it meanwhile; then this only looks it up. */
	bpf_map_update_elem(&ss_top_procs, key, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&ss_top_procs, key);
}

/* The facts of the calling process, written on this CPU's copy the first time it is seen here
 * (and again after exec, see top_exec). */
static __always_inline void top_proc_facts(struct ss_top_proc *p, struct task_struct *task,
					   __u64 uid_gid, __u64 now)
{
	p->ppid = task->real_parent->tgid;
	p->uid = (__u32)uid_gid;
	p->gid = uid_gid >> 32;
	p->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(p->comm, sizeof(p->comm));
	p->facts_ns = now;
}

/* The tuple and state of a kernel socket as they are now (struct sock, not struct socket). */
static __always_inline void top_read_tuple(struct sock *sk, struct ss_sock *out)
{
	out->family = sk->__sk_common.skc_family;
	out->type = sk->sk_type;
	out->protocol = sk->sk_protocol;
	out->state = sk->__sk_common.skc_state;
	if (out->family == AF_INET) {
		ss_v4_mapped(out->laddr, sk->__sk_common.skc_rcv_saddr);
		ss_v4_mapped(out->raddr, sk->__sk_common.skc_daddr);
	} else if (out->family == AF_INET6) {
		__builtin_memcpy(out->laddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(out->raddr, &sk->__sk_common.skc_v6_daddr, 16);
	} else {
		return; /* unix: no addresses here; netstat has the paths */
	}
	out->lport = sk->__sk_common.skc_num;
	out->rport = bpf_ntohs(sk->__sk_common.skc_dport);
}

/* The socket's inode number (struct socket_alloc puts the inode right after the socket), 0 while
 * the socket has no file yet (an accepted connection before accept() returned). */
static __always_inline __u64 top_inode_of(struct sock *sk)
{
	struct socket *sock = sk->sk_socket;

	if (!sock)
		return 0;
	return BPF_CORE_READ(container_of(sock, struct socket_alloc, socket), vfs_inode.i_ino);
}

/* Takes the kernel's retransmit count of a TCP socket into the connection and returns how many
 * are new. Compare-and-swap: two CPUs reading the same new total count it once. */
static __always_inline __u32 top_sync_retrans(struct ss_top_conn *c, struct sock *sk)
{
	__u32 total = SS_CAST(sk, struct tcp_sock)->total_retrans;
	__u32 old = c->retransmits;

	if (total <= old)
		return 0;
	if (__sync_val_compare_and_swap(&c->retransmits, old, total) != old)
		return 0; /* another CPU moved it; the rest is caught at the next sync */
	return total - old;
}

enum top_counter {
	TOP_CONNECT_FAIL,
	TOP_RESET,
	TOP_RETRANS,
};

/* Charges a counter to the owner of a connection, on this CPU's copy of the owner's value. Used
 * where `current` is not the owner (softirq, timers, loopback peers). */
static __always_inline void top_charge_owner(struct ss_top_conn *c, enum top_counter what, __u64 n,
					     __u64 now)
{
	struct ss_top_pkey key = {};
	struct ss_top_proc *p;

	if (!c->owner_tgid || !n)
		return;
	key.tgid = c->owner_tgid;
	key.start_ns = c->owner_start_ns;
	/* only an existing process row: a connection must not resurrect a forgotten process */
	p = bpf_map_lookup_elem(&ss_top_procs, &key);
	if (!p)
		return;
	switch (what) {
	case TOP_CONNECT_FAIL:
		p->connect_fails += n;
		break;
	case TOP_RESET:
		p->resets += n;
		break;
	case TOP_RETRANS:
		p->retransmits += n;
		break;
	}
	if (!p->first_ns)
		p->first_ns = now;
	p->last_ns = now;
}

/* Takes a connection for the calling process when it has no owner yet (accepted connections are
 * created in softirq, where the owner is unknown). */
static __always_inline void top_claim(struct ss_top_conn *c, const struct ss_top_pkey *key, __u32 uid)
{
	if (c->owner_tgid)
		return;
	if (__sync_val_compare_and_swap(&c->owner_tgid, 0, key->tgid) != 0)
		return;
	c->owner_start_ns = key->start_ns;
	c->owner_uid = uid;
	bpf_get_current_comm(c->comm, sizeof(c->comm));
}

/* A new connection row for the calling process; false when the socket filters reject it. */
static __always_inline bool top_new_conn(struct sock *sk, __u64 cookie, const struct ss_top_pkey *key,
					 __u32 uid, __u32 flags, __u64 now)
{
	struct ss_top_conn c = {};

	top_read_tuple(sk, &c.sk);
	c.sk.cookie = cookie;
	if (!ss_sock_match(&c.sk))
		return false;
	c.first_ns = now;
	c.flags = flags;
	c.ino = top_inode_of(sk);
	if (key) {
		c.owner_tgid = key->tgid;
		c.owner_start_ns = key->start_ns;
		c.owner_uid = uid;
		bpf_get_current_comm(c.comm, sizeof(c.comm));
	}
	bpf_map_update_elem(&ss_top_conns, &cookie, &c, BPF_NOEXIST);
	return true;
}

/* Adds a datagram of an unconnected UDP socket to the row of the peer that the cgroup hook of
 * this same call noted. Calls that named no peer (recv without an address) note nothing. */
static __always_inline void top_peer_io(struct sock *sk, __u64 cookie, __u64 pid_tgid, int ret,
					bool tx, __u64 now)
{
	struct ss_top_peer_key key = {};
	struct ss_top_peer *v;
	struct top_note *n;

	n = bpf_sk_storage_get(&ss_top_note, sk, 0, 0);
	/* another thread's note (two threads on one socket) is left for that thread */
	if (!n || n->pid_tgid != pid_tgid)
		return;
	n->pid_tgid = 0; /* taken: a later call without an address must not reuse it */
	key.cookie = cookie;
	__builtin_memcpy(key.addr, n->addr, sizeof(key.addr));
	key.port = n->port;
	v = bpf_map_lookup_elem(&ss_top_peers, &key);
	if (!v) {
		struct ss_top_peer fresh = {};

		fresh.first_ns = now;
		fresh.flags = tx ? SS_TOP_PEER_SENT_FIRST : SS_TOP_PEER_RECEIVED_FIRST;
		/* NOEXIST: another CPU may have created it meanwhile; then that one counts */
		bpf_map_update_elem(&ss_top_peers, &key, &fresh, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&ss_top_peers, &key);
		if (!v)
			return;
	}
	if (tx) {
		__sync_fetch_and_add(&v->tx_bytes, ret);
		__sync_fetch_and_add(&v->tx_dgrams, 1);
	} else {
		__sync_fetch_and_add(&v->rx_bytes, ret);
		__sync_fetch_and_add(&v->rx_dgrams, 1);
	}
	v->last_ns = now;
}

static __always_inline void top_live_add(struct ss_top_live *live, int ret, bool tx, __u64 now)
{
	if (tx) {
		__sync_fetch_and_add(&live->tx_bytes, ret);
		__sync_fetch_and_add(&live->tx_calls, 1);
	} else {
		__sync_fetch_and_add(&live->rx_bytes, ret);
		__sync_fetch_and_add(&live->rx_calls, 1);
	}
	live->last_ns = now;
}

/* Brings a row's counts up to its socket's live ones (which are never fewer). */
static __always_inline void top_live_sync(struct ss_top_conn *c, const struct ss_top_live *live)
{
	if (live->tx_bytes > c->tx_bytes)
		c->tx_bytes = live->tx_bytes;
	if (live->rx_bytes > c->rx_bytes)
		c->rx_bytes = live->rx_bytes;
	if (live->tx_calls > c->tx_calls)
		c->tx_calls = live->tx_calls;
	if (live->rx_calls > c->rx_calls)
		c->rx_calls = live->rx_calls;
	if (live->last_ns > c->last_ns)
		c->last_ns = live->last_ns;
}

/* A TCP socket's live counts, started at what its row counted before (its first calls, or all of
 * them when storage failed). The first CPU to set the cookie starts them, by adding, so a byte
 * counted meanwhile by another CPU stays counted. */
static __always_inline struct ss_top_live *top_live_create(struct sock *sk, struct ss_top_conn *c, __u64 cookie)
{
	struct ss_top_live *live = bpf_sk_storage_get(&ss_top_live, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (!live || live->cookie)
		return live;
	if (__sync_val_compare_and_swap(&live->cookie, 0, cookie) != 0)
		return live;
	__sync_fetch_and_add(&live->tx_bytes, c->tx_bytes);
	__sync_fetch_and_add(&live->rx_bytes, c->rx_bytes);
	__sync_fetch_and_add(&live->tx_calls, c->tx_calls);
	__sync_fetch_and_add(&live->rx_calls, c->rx_calls);
	return live;
}

/* Makes key this CPU's current process: adds what the previous one counted here to its row
 * (only a row that still exists: user space may have retired it) and returns key's row, created
 * when missing. seq is odd in between, so that user space can tell a read that overlapped. */
static __always_inline struct ss_top_proc *top_switch(struct ss_top_cur *cur, const struct ss_top_pkey *key)
{
	struct ss_top_proc *p;

	cur->seq++;
	asm volatile("" ::: "memory");
	if (cur->key.tgid) {
		p = bpf_map_lookup_elem(&ss_top_procs, &cur->key);
		if (p) {
			p->tx_bytes += cur->tx_bytes;
			p->rx_bytes += cur->rx_bytes;
			p->tx_calls += cur->tx_calls;
			p->rx_calls += cur->rx_calls;
			if (cur->last_ns > p->last_ns)
				p->last_ns = cur->last_ns;
		}
	}
	cur->key = *key;
	cur->tx_bytes = 0;
	cur->rx_bytes = 0;
	cur->tx_calls = 0;
	cur->rx_calls = 0;
	cur->last_ns = 0;
	asm volatile("" ::: "memory");
	cur->seq++;
	return top_proc(key);
}

/* Adds a call's bytes to the calling process: to this CPU's current-process slot, which first
 * becomes the caller's when another process had it. */
static __always_inline void top_proc_io(struct task_struct *task, const struct ss_top_pkey *key,
					__u64 uid_gid, int ret, bool tx, __u64 now)
{
	struct ss_top_cur *cur;
	struct ss_top_proc *p;
	__u32 zero = 0;

	cur = bpf_map_lookup_elem(&ss_top_cur, &zero);
	if (!cur)
		return;
	if (cur->key.tgid != key->tgid || cur->key.start_ns != key->start_ns) {
		p = top_switch(cur, key);
		if (!p)
			return;
		/* A real clock here (this runs once per change of process on a CPU): the facts' time
		 * decides which CPU's copy is the newest, and the socket's clock may predate the
		 * process (a socket inherited with data already received). */
		if (!p->facts_ns || !p->first_ns) {
			__u64 t = bpf_ktime_get_ns();

			if (!p->facts_ns)
				top_proc_facts(p, task, uid_gid, t);
			if (!p->first_ns)
				p->first_ns = t;
		}
	}
	cur->last_ns = now;
	if (tx) {
		cur->tx_bytes += ret;
		cur->tx_calls++;
	} else {
		cur->rx_bytes += ret;
		cur->rx_calls++;
	}
}

/* Bytes moved by a system call on a socket: runs in the caller's context, for every send/recv
 * path (send*, write*, sendfile/splice, io_uring ...). */
static __always_inline int top_io(struct sock *sk, int ret, int flags, bool tx)
{
	struct task_struct *task;
	struct ss_top_pkey key;
	struct ss_top_conn *c;
	struct ss_top_live *live = NULL;
	__u64 pid_tgid, uid_gid, cookie, now, delta;
	__u16 family;
	bool tcp;

	if (ret <= 0 || !sk)
		return 0;
	if (!tx && (flags & MSG_PEEK))
		return 0; /* the same bytes are read again later */
	family = sk->__sk_common.skc_family;
	if (!top_family_wanted(family))
		return 0;
	task = bpf_get_current_task_btf();
	if (task->flags & PF_KTHREAD)
		return 0; /* in-kernel users (NFS, iSCSI ...) are no process */
	ss_task_ids(task, &pid_tgid, &uid_gid);
	if (!ss_proc_match(pid_tgid >> 32, (__u32)uid_gid))
		return 0;
	/* TCP keeps the time of its last packet event (tcp_clock_cache, CLOCK_MONOTONIC ns, refreshed
	 * as it sends and receives): a load instead of a clock read, which costs ~45 ns here */
	tcp = family != AF_UNIX && sk->sk_protocol == IPPROTO_TCP;
	now = tcp ? SS_CAST(sk, struct tcp_sock)->tcp_clock_cache : 0;
	if (!now)
		now = bpf_ktime_get_ns();
	top_pkey_of(task, &key);

	/* The common case: a TCP socket counted before, its row brought up to date lately. */
	if (ss_top_live_on && tcp && sk->sk_bpf_storage) { /* a load first: most short sockets have none */
		live = bpf_sk_storage_get(&ss_top_live, sk, 0, 0);
		if (live && now - live->sync_ns < TOP_SYNC_NS) {
			top_live_add(live, ret, tx, now);
			top_proc_io(task, &key, uid_gid, ret, tx, now);
			return 0;
		}
	}

	/* assigned once per socket; after that a load */
	cookie = sk->__sk_common.skc_cookie.counter;
	if (!cookie)
		cookie = bpf_get_socket_cookie(sk);

	c = bpf_map_lookup_elem(&ss_top_conns, &cookie);
	if (!c && live && !live->sync_ns) {
		/* Closed, and its row already read and retired by user space (bytes read after a
		 * reset): a new row would start at the socket's whole count and show it again. */
		top_live_add(live, ret, tx, now);
		top_proc_io(task, &key, uid_gid, ret, tx, now);
		return 0;
	}
	if (!c) {
		if (!top_new_conn(sk, cookie, &key, (__u32)uid_gid, 0, now))
			return 0;
		c = bpf_map_lookup_elem(&ss_top_conns, &cookie);
		if (!c)
			return 0;
	}
	top_claim(c, &key, (__u32)uid_gid);
	if (ss_top_live_on && tcp && !live && c->tx_calls + c->rx_calls >= TOP_LIVE_AFTER_CALLS)
		live = top_live_create(sk, c, cookie);
	if (live) {
		top_live_add(live, ret, tx, now);
		top_live_sync(c, live);
		/* once closed, every call keeps the row current (the last bytes read after a reset) */
		live->sync_ns = c->flags & SS_TOP_CONN_CLOSED ? 0 : now;
	} else if (tx) {
		__sync_fetch_and_add(&c->tx_bytes, ret);
		__sync_fetch_and_add(&c->tx_calls, 1);
	} else {
		__sync_fetch_and_add(&c->rx_bytes, ret);
		__sync_fetch_and_add(&c->rx_calls, 1);
	}
	c->last_ns = now;
	c->sk.state = sk->__sk_common.skc_state;
	/* the tuple may be incomplete: ports are assigned by connect/bind, peers by connect */
	if (family != AF_UNIX && (c->sk.lport == 0 || c->sk.rport == 0))
		top_read_tuple(sk, &c->sk);
	if (!c->ino)
		c->ino = top_inode_of(sk);
	delta = 0;
	if (c->sk.protocol == IPPROTO_TCP && family != AF_UNIX) {
		c->srtt_us = SS_CAST(sk, struct tcp_sock)->srtt_us >> 3;
		delta = top_sync_retrans(c, sk);
	}
	/* unconnected UDP (state 7): its peers vary per datagram; a connected one has its peer in
	 * the row already */
	if (ss_top_peers_on && c->sk.protocol == IPPROTO_UDP && family != AF_UNIX &&
	    c->sk.state != TCP_ESTABLISHED)
		top_peer_io(sk, cookie, pid_tgid, ret, tx, now);

	top_proc_io(task, &key, uid_gid, ret, tx, now);
	/* retransmits belong to the connection's owner, which is the caller almost always */
	if (delta)
		top_charge_owner(c, TOP_RETRANS, delta, now);
	return 0;
}

/* ---------------------------------------------------------------- programs */

SEC("tp_btf/sock_send_length")
int BPF_PROG(ss_top_send, struct sock *sk, int ret, int flags)
{
	return top_io(sk, ret, flags, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(ss_top_recv, struct sock *sk, int ret, int flags)
{
	return top_io(sk, ret, flags, false);
}

/* The cgroup sock_addr hooks run only for UDP sends that name an address and receives that ask
 * for one, and see that address. They note it for the byte hooks, always allow the call (1) and
 * never change the address. Attached to the cgroup v2 root, only when ss_top_peers_on. */
static __always_inline int top_note_peer(struct bpf_sock_addr *ctx, bool v6)
{
	struct top_note *n;

	if (ctx->protocol != IPPROTO_UDP)
		return 1;
	n = bpf_sk_storage_get(&ss_top_note, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!n)
		return 1;
	if (v6) {
		/* user_ip6 is four 32-bit words in the context: read them one by one */
		__u32 a[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };

		__builtin_memcpy(n->addr, a, sizeof(n->addr));
	} else {
		ss_v4_mapped(n->addr, ctx->user_ip4);
	}
	/* the port is in network order in the low 16 bits */
	n->port = bpf_ntohs((__u16)ctx->user_port);
	n->pid_tgid = bpf_get_current_pid_tgid();
	return 1;
}

SEC("cgroup/sendmsg4")
int ss_top_snd4(struct bpf_sock_addr *ctx)
{
	return top_note_peer(ctx, false);
}

SEC("cgroup/sendmsg6")
int ss_top_snd6(struct bpf_sock_addr *ctx)
{
	return top_note_peer(ctx, true);
}

SEC("cgroup/recvmsg4")
int ss_top_rcv4(struct bpf_sock_addr *ctx)
{
	return top_note_peer(ctx, false);
}

SEC("cgroup/recvmsg6")
int ss_top_rcv6(struct bpf_sock_addr *ctx)
{
	return top_note_peer(ctx, true);
}

/* Unix sockets get their cookie lazily (at their first byte here), so a connect's return would
 * report none and the map could not give the connection its bytes. This hook runs inside unix
 * connect() (Linux 6.7+) and assigns the cookie there; it always allows the call. User space
 * loads it only for `map` and only where the kernel has the hook. */
SEC("cgroup/connect_unix")
int ss_top_unixcon(struct bpf_sock_addr *ctx)
{
	bpf_get_socket_cookie(ctx);
	return 1;
}

/* TCP state changes. Only CLOSE -> SYN_SENT runs in the connecting process's own system call;
 * everything else may run in softirq or in the loopback peer, so it goes by cookie. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ss_top_state, struct sock *sk, const int oldstate, const int newstate)
{
	struct ss_top_conn *c;
	__u64 cookie, now;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (!top_family_wanted(sk->__sk_common.skc_family))
		return 0;
	now = bpf_ktime_get_ns();

	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		struct task_struct *task = bpf_get_current_task_btf();
		struct ss_top_pkey key;
		struct ss_top_proc *p;
		__u64 pid_tgid, uid_gid;

		if (task->flags & PF_KTHREAD)
			return 0;
		ss_task_ids(task, &pid_tgid, &uid_gid);
		if (!ss_proc_match(pid_tgid >> 32, (__u32)uid_gid))
			return 0;
		top_pkey_of(task, &key);
		cookie = bpf_get_socket_cookie(sk);
		/* the local port is still 0 here; the first byte or ESTABLISHED fills it in */
		if (!top_new_conn(sk, cookie, &key, (__u32)uid_gid, SS_TOP_CONN_ACTIVE, now))
			return 0;
		p = top_proc(&key);
		if (!p)
			return 0;
		if (!p->facts_ns)
			top_proc_facts(p, task, uid_gid, now);
		if (!p->first_ns)
			p->first_ns = now;
		p->last_ns = now;
		p->connects++;
		return 0;
	}

	cookie = bpf_get_socket_cookie(sk);
	c = bpf_map_lookup_elem(&ss_top_conns, &cookie);
	if (!c) {
		/* An accepted connection: its owner is whoever reads or writes it first. With a
		 * process filter it waits for that first byte, where the filter can be checked. */
		if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED &&
		    !(ss_filter_flags & (SS_FILTER_PID | SS_FILTER_COMM | SS_FILTER_UID | SS_FILTER_CGROUP)))
			top_new_conn(sk, cookie, NULL, 0, SS_TOP_CONN_PASSIVE | SS_TOP_CONN_ESTABLISHED, now);
		return 0;
	}
	c->sk.state = newstate;
	if (c->sk.lport == 0 || c->sk.rport == 0)
		top_read_tuple(sk, &c->sk);
	if (newstate == TCP_ESTABLISHED)
		__sync_fetch_and_or(&c->flags, SS_TOP_CONN_ESTABLISHED);
	if (newstate == TCP_CLOSE) {
		__u32 delta = top_sync_retrans(c, sk);
		if (oldstate == TCP_SYN_SENT) {
			__sync_fetch_and_or(&c->flags, SS_TOP_CONN_FAILED | SS_TOP_CONN_CLOSED);
			top_charge_owner(c, TOP_CONNECT_FAIL, 1, now);
		} else {
			__sync_fetch_and_or(&c->flags, SS_TOP_CONN_CLOSED);
		}
		c->close_ns = now;
		top_charge_owner(c, TOP_RETRANS, delta, now);
		/* the row takes the final counts: the socket and its storage go soon */
		if (ss_top_live_on && sk->sk_bpf_storage) {
			struct ss_top_live *live = bpf_sk_storage_get(&ss_top_live, sk, 0, 0);

			if (live) {
				top_live_sync(c, live);
				live->sync_ns = 0;
			}
		}
	}
	return 0;
}

/* Reads the cookie without assigning one: a socket that never got one was never counted. */
static __always_inline struct ss_top_conn *top_conn_of(const struct sock *sk)
{
	__u64 cookie;

	if (!sk)
		return NULL;
	cookie = sk->__sk_common.skc_cookie.counter;
	if (!cookie)
		return NULL;
	return bpf_map_lookup_elem(&ss_top_conns, &cookie);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(ss_top_retrans, struct sock *sk, struct sk_buff *skb)
{
	struct ss_top_conn *c = top_conn_of(sk);

	if (c)
		top_charge_owner(c, TOP_RETRANS, top_sync_retrans(c, sk), bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(ss_top_rst_rx, struct sock *sk)
{
	struct ss_top_conn *c = top_conn_of(sk);

	if (!c)
		return 0;
	__sync_fetch_and_or(&c->flags, SS_TOP_CONN_RST_RX);
	top_charge_owner(c, TOP_RESET, 1, bpf_ktime_get_ns());
	return 0;
}

/* sk is NULL for resets that answer a segment no socket wanted (a closed port). */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(ss_top_rst_tx, struct sock *sk, struct sk_buff *skb)
{
	struct ss_top_conn *c = top_conn_of(sk);

	if (!c)
		return 0;
	__sync_fetch_and_or(&c->flags, SS_TOP_CONN_RST_TX);
	top_charge_owner(c, TOP_RESET, 1, bpf_ktime_get_ns());
	return 0;
}

/* Writes the live counts of every TCP socket that has them, for user space to read at once
 * (a map walk cannot read socket-local storage). */
SEC("iter/bpf_sk_storage_map")
int ss_top_live_iter(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct ss_top_live *live = ctx->value;

	if (!ctx->sk || !live)
		return 0;
	bpf_seq_write(ctx->meta->seq, live, sizeof(*live));
	return 0;
}

/* A new program image: the process's name changes, its counters stay. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(ss_top_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct ss_top_pkey key;
	struct ss_top_proc *v;

	top_pkey_of(p, &key);
	v = bpf_map_lookup_elem(&ss_top_procs, &key);
	if (!v)
		return 0;
	/* current is p here: exec runs in the process itself */
	top_proc_facts(v, p, bpf_get_current_uid_gid(), bpf_ktime_get_ns());
	return 0;
}

/* The last thread of a process exits: keep its row, mark it exited; user space drops it later. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(ss_top_exit, struct task_struct *p)
{
	struct ss_top_pkey key;
	struct ss_top_proc *v;

	/* signal->live is decremented before this tracepoint: 0 means the whole group is gone
	 * (read this way because the group_dead argument exists only on newer kernels) */
	if (p->signal->live.counter != 0)
		return 0;
	top_pkey_of(p, &key);
	v = bpf_map_lookup_elem(&ss_top_procs, &key);
	if (!v)
		return 0;
	v->exit_ns = bpf_ktime_get_ns();
	return 0;
}
