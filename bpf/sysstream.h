/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Everything that crosses from the BPF programs into user space.
 *
 * The C# side (src/Sysstream.Core/Events/Generated.cs) is generated from the BTF
 * of the compiled object, so a change here is picked up by `make -C bpf` and the
 * layout test. Rules: fixed-width types, a type tag at offset 0, explicit padding,
 * 8-byte aligned sizes, no packed structs.
 */
#ifndef SYSSTREAM_H
#define SYSSTREAM_H

#define SS_COMM_LEN 16
#define SS_UNIX_PATH_LEN 108

/* The first u16 of every ring-buffer record. */
enum ss_event_type {
	SS_EVENT_SYSCALL = 1,
	SS_EVENT_SYSCALL_UNIX = 2, /* ss_syscall_event followed by ss_unix_paths */
	SS_EVENT_LOST = 3,
};

enum ss_phase {
	SS_PHASE_ENTER = 0,
	SS_PHASE_EXIT = 1,
};

/* The system calls sysstream traces, independent of the architecture's numbers. */
enum ss_func {
	SS_FUNC_NONE = 0,
	SS_FUNC_SOCKET,
	SS_FUNC_SOCKETPAIR,
	SS_FUNC_BIND,
	SS_FUNC_LISTEN,
	SS_FUNC_CONNECT,
	SS_FUNC_ACCEPT,
	SS_FUNC_ACCEPT4,
	SS_FUNC_SENDTO,
	SS_FUNC_SENDMSG,
	SS_FUNC_SENDMMSG,
	SS_FUNC_RECVFROM,
	SS_FUNC_RECVMSG,
	SS_FUNC_RECVMMSG,
	SS_FUNC_READ,
	SS_FUNC_READV,
	SS_FUNC_WRITE,
	SS_FUNC_WRITEV,
	SS_FUNC_SENDFILE,
	SS_FUNC_SPLICE,
	SS_FUNC_CLOSE,
	SS_FUNC_SHUTDOWN,
	SS_FUNC_COUNT,
};

/* ss_syscall_event.flags */
enum ss_event_flags {
	SS_EF_SOCK = 1 << 0,          /* sk holds a kernel socket's facts */
	SS_EF_PEER_FROM_ARGS = 1 << 1, /* remote address came from the call's sockaddr */
	SS_EF_LOCAL_FROM_ARGS = 1 << 2,/* local address came from the call's sockaddr (bind) */
	SS_EF_SEQ = 1 << 3,           /* sk.seq is a TCP sequence number */
	SS_EF_TRUNCATED = 1 << 4,     /* an iovec/mmsg sum was cut at its bound */
	SS_EF_WITH_ENTRY = 1 << 5,    /* exit record that also stands for its entry: the same
	                                 event with phase enter, at ts_ns - duration_ns, ret 0 */
};

/* Which filters are on: ss_config.filter_flags */
enum ss_filter_flags {
	SS_FILTER_PID = 1 << 0,
	SS_FILTER_COMM = 1 << 1,
	SS_FILTER_UID = 1 << 2,
	SS_FILTER_PORT = 1 << 3,
	SS_FILTER_ADDR = 1 << 4,
	SS_FILTER_FAMILY = 1 << 5,
	SS_FILTER_PROTO = 1 << 6,
	SS_FILTER_CGROUP = 1 << 7,
};

/* ss_pids values */
enum ss_pid_flags {
	SS_PID_TRACED = 1 << 0,
	SS_PID_FOLLOW_CHILDREN = 1 << 1,
};

/* A socket as seen at event time. Addresses are 16 bytes, IPv4 as ::ffff:a.b.c.d. */
struct ss_sock {
	__u64 cookie;     /* bpf socket cookie: the connection id (0: not assigned yet) */
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 family;     /* AF_* */
	__u16 type;       /* SOCK_* */
	__u16 protocol;   /* IPPROTO_* */
	__u16 lport;      /* host order */
	__u16 rport;      /* host order */
	__u8 state;       /* TCP_* (also used by the kernel for UDP: 1 connected, 7 not) */
	__u8 _pad0;
	__u32 seq;        /* TCP: write_seq before a send, copied_seq before a receive */
};

struct ss_syscall_event {
	__u16 type;       /* ss_event_type */
	__u8 phase;       /* ss_phase */
	__u8 func;        /* ss_func */
	__u32 cpu;
	__u64 ts_ns;      /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 duration_ns;/* exit: time since the matching enter */
	__u64 cgroup_id;  /* cgroup v2 id */
	__s64 ret;        /* exit: the return value, -errno on failure */
	__u64 req_bytes;  /* bytes the caller asked to move (len, iovec sum, count) */
	__u64 arg;        /* per call: socket/socketpair type flags, listen backlog,
	                     shutdown how, accept4 flags, socketpair 2nd fd, sendfile/splice other fd,
	                     s/recvmmsg vlen */
	__u32 pid;        /* tgid */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__s32 fd;
	__u32 netns;      /* network namespace inode */
	__u32 flags;      /* ss_event_flags */
	struct ss_sock sk;
	char comm[SS_COMM_LEN];
	char pcomm[SS_COMM_LEN];
};

/* Follows an ss_syscall_event when type == SS_EVENT_SYSCALL_UNIX. */
struct ss_unix_paths {
	char local[SS_UNIX_PATH_LEN];  /* sun_path; abstract names start with '\0' */
	char remote[SS_UNIX_PATH_LEN];
};

struct ss_syscall_event_unix {
	struct ss_syscall_event ev;
	struct ss_unix_paths paths;
};

/* Emitted on a CPU before its next event once the ring buffer had no room. */
struct ss_lost_event {
	__u16 type;       /* SS_EVENT_LOST */
	__u16 _pad0;
	__u32 cpu;
	__u64 ts_ns;      /* when the loss was noticed (first successful write after it) */
	__u64 count;      /* records dropped on this CPU since the last lost record */
};

/* Per-CPU counters of one object's ring buffer (its ss_stats map). */
struct ss_stats {
	__u64 events;     /* events written (a record with SS_EF_WITH_ENTRY is two) */
	__u64 lost;       /* events dropped: ring buffer full */
	__u64 unreported; /* dropped and not yet announced by an ss_lost_event */
};

/* ------------------------------------------------------------------------------------- top */
/*
 * In-kernel totals for `sysstream top` and `sysstream netstat` (bpf/top.bpf.c). Nothing is sent
 * per byte: the programs add to these map values and user space reads the maps on its timer.
 */

/* The key of ss_top_procs: a process, told apart from a later one with the same pid by its
 * start time (the same clock as field 22 of /proc/PID/stat, in ns). */
struct ss_top_pkey {
	__u32 tgid;
	__u32 _pad0;
	__u64 start_ns;       /* group leader's start_boottime */
};

/* A value of ss_top_procs, one copy per CPU. User space sums the counters and takes the facts
 * (comm, ppid, uid ...) from the copy that wrote them last (facts_ns). */
struct ss_top_proc {
	__u64 tx_bytes;       /* bytes sent on its sockets (sock_send_length) */
	__u64 rx_bytes;       /* bytes received (sock_recv_length, MSG_PEEK excluded) */
	__u64 tx_calls;
	__u64 rx_calls;
	__u64 connects;       /* TCP connect attempts (CLOSE -> SYN_SENT) */
	__u64 connect_fails;  /* attempts that went back to CLOSE before ESTABLISHED */
	__u64 resets;         /* RSTs received or sent on its connections */
	__u64 retransmits;    /* TCP segments retransmitted on its connections */
	__u64 first_ns;       /* first activity seen on this CPU (CLOCK_MONOTONIC) */
	__u64 last_ns;        /* last activity seen on this CPU */
	__u64 facts_ns;       /* when the facts below were written on this CPU (0: never) */
	__u64 exit_ns;        /* the process exited (0: alive as far as this CPU saw) */
	__u64 cgroup_id;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 _pad0;
	char comm[SS_COMM_LEN];
};

/* The process whose sends and receives one CPU is counting now (ss_top_cur, one value per CPU):
 * its bytes and calls since it became this CPU's current one, not yet in its ss_top_procs row.
 * While the same process keeps calling on a CPU, the byte hooks add here and look up no row; the
 * next process to call there adds this to the row, then takes its place. User space adds it to
 * the row it reads. seq is odd while the place changes hands (a sequence lock): a read of the
 * rows between two reads of the same even seq neither misses nor doubles it. */
struct ss_top_cur {
	__u64 seq;
	struct ss_top_pkey key; /* tgid 0: none yet */
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u64 tx_calls;
	__u64 rx_calls;
	__u64 last_ns;
};

/* ss_top_conn.flags */
enum ss_top_conn_flags {
	SS_TOP_CONN_ACTIVE = 1 << 0,      /* this end connected (CLOSE -> SYN_SENT seen) */
	SS_TOP_CONN_PASSIVE = 1 << 1,     /* accepted (SYN_RECV -> ESTABLISHED seen) */
	SS_TOP_CONN_ESTABLISHED = 1 << 2, /* reached ESTABLISHED while watched */
	SS_TOP_CONN_FAILED = 1 << 3,      /* connect failed: SYN_SENT -> CLOSE */
	SS_TOP_CONN_RST_RX = 1 << 4,      /* an RST was received */
	SS_TOP_CONN_RST_TX = 1 << 5,      /* an RST was sent */
	SS_TOP_CONN_CLOSED = 1 << 6,      /* TCP reached CLOSE */
};

/* A TCP socket's bytes and calls as they grow, in socket-local storage (ss_top_live), once the
 * socket has made a few calls: the byte hooks find it through the socket and look up no row.
 * Its ss_top_conns row is brought up to these counts now and then while the socket is used
 * (top.bpf.c), and at CLOSE. Both only grow and the row never holds more, so a reader takes the
 * larger of each count. The iterator ss_top_live_iter writes this record for every socket that
 * has one. */
struct ss_top_live {
	__u64 cookie;
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u64 tx_calls;
	__u64 rx_calls;
	__u64 last_ns;
	__u64 sync_ns;   /* the row was last brought up to date (0: at every call, once closed) */
};

/* A value of ss_top_conns, keyed by socket cookie (sk.cookie). Shared by all CPUs: counters are
 * added atomically. */
struct ss_top_conn {
	struct ss_sock sk;    /* tuple and state as last read from the socket */
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u64 tx_calls;
	__u64 rx_calls;
	__u64 first_ns;       /* first seen (connect, accept or first byte) */
	__u64 last_ns;        /* last send or receive */
	__u64 close_ns;       /* reached CLOSE (0: open) */
	__u64 owner_start_ns; /* the owner's ss_top_pkey.start_ns */
	__u64 ino;            /* socket inode: joins /proc/net/... and /proc/PID/fd */
	__u32 owner_tgid;     /* first process seen using it in a system call (0: none yet) */
	__u32 owner_uid;
	__u32 srtt_us;        /* TCP smoothed round-trip time, microseconds */
	__u32 retransmits;    /* TCP segments retransmitted (the kernel's total_retrans) */
	__u32 flags;          /* ss_top_conn_flags */
	__u32 _pad0;
	char comm[SS_COMM_LEN]; /* the owner's */
};

/* --------------------------------------------------------------------------------- capture */
/*
 * Packets for `sysstream capture` (bpf/capture.bpf.c): every IP packet into or out of a local
 * socket, with the socket's cookie and the process that last used that socket in process
 * context. Records of its ring buffer are ss_packet_event (+ bytes) and ss_lost_event.
 */

/* The type tag of the capture object's records (its lost records are SS_EVENT_LOST). */
enum ss_capture_type {
	SS_CAPTURE_PACKET = 16, /* ss_packet_event followed by cap_len bytes of the IP packet */
	SS_CAPTURE_PROC = 17,   /* ss_proc_event */
};

#define SS_CMDLINE_LEN 256
#define SS_CGROUP_DEPTH 8
#define SS_CGROUP_NAME_LEN 64

/* ss_packet_event.dir */
enum ss_packet_dir {
	SS_PACKET_INGRESS = 0, /* delivered to a local socket */
	SS_PACKET_EGRESS = 1,  /* sent by a local socket */
};

/* ss_packet_event.flags */
enum ss_packet_flags {
	SS_PF_OWNER = 1 << 0,  /* owner holds the socket's last user at packet time */
	SS_PF_NETNS = 1 << 1,  /* netns holds the device's network namespace */
};

/* The process that last used a socket in process context: a value of the ss_owners map
 * (key: socket cookie), copied into each packet of that socket. */
struct ss_sock_owner {
	__u64 ts_ns;      /* when (CLOCK_MONOTONIC) */
	__u64 start_ns;   /* the process's start (start_boottime, ns): tells reused pids apart */
	__u64 cgroup_id;  /* cgroup v2 id */
	__u32 pid;        /* tgid */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__s32 fd;         /* the socket's descriptor in that process; -1 when not known */
	__u32 netns;      /* the process's network namespace inode */
	__u8 func;        /* ss_func of the system call; SS_FUNC_NONE when none (io_uring ...) */
	__u8 matched;     /* the process passed the process filters (pid, comm, uid, cgroup) */
	__u16 _pad0;
	char comm[SS_COMM_LEN];
	char pcomm[SS_COMM_LEN];
};

/* A process seen using a socket for the first time (or again after an exec): what /proc may
 * no longer say once its packets are written, read while it runs. */
struct ss_proc_event {
	__u16 type;          /* SS_CAPTURE_PROC */
	__u16 cmdline_len;   /* bytes in cmdline: the NUL-separated arguments, cut at SS_CMDLINE_LEN */
	__u32 pid;           /* tgid */
	__u64 ts_ns;
	__u64 start_ns;      /* as ss_sock_owner.start_ns */
	__u64 cgroup_id;
	__u16 cgroup_depth;  /* names in cgroup, the leaf first; 0: the root */
	__u8 cgroup_cut;     /* 1: the path is deeper than SS_CGROUP_DEPTH, its top is missing */
	__u8 _pad0[5];
	char cmdline[SS_CMDLINE_LEN];
	char cgroup[SS_CGROUP_DEPTH * SS_CGROUP_NAME_LEN]; /* SS_CGROUP_NAME_LEN bytes per name */
};

/* One packet as a cgroup_skb hook saw it, from its IP header on; cap_len bytes follow. */
struct ss_packet_event {
	__u16 type;       /* SS_CAPTURE_PACKET */
	__u8 dir;         /* ss_packet_dir */
	__u8 flags;       /* ss_packet_flags */
	__u32 cpu;
	__u64 ts_ns;      /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 cookie;     /* the socket's cookie (0: none) */
	__u32 ifindex;    /* the device, in namespace netns */
	__u32 netns;      /* the device's network namespace inode (with SS_PF_NETNS) */
	__u32 len;        /* bytes of the IP packet (a GSO packet counts whole) */
	__u32 cap_len;    /* bytes of it that follow this header (at most the snap length) */
	struct ss_sock_owner owner; /* with SS_PF_OWNER */
};

/* ------------------------------------------------------------------------------- udp peers */
/*
 * Per-peer totals of unconnected UDP sockets (bpf/top.bpf.c, loaded for `map` and `serve`): such
 * a socket has no peer in the kernel, so the cgroup sendmsg/recvmsg hooks note each datagram's
 * peer and the byte hooks add to one row per (socket, peer).
 */

/* ss_top_peer.flags */
enum ss_top_peer_flags {
	SS_TOP_PEER_SENT_FIRST = 1 << 0,     /* this socket sent to the peer before it received from it */
	SS_TOP_PEER_RECEIVED_FIRST = 1 << 1, /* it received from the peer first */
};

/* The key of ss_top_peers. */
struct ss_top_peer_key {
	__u64 cookie;     /* the local socket's cookie (its row in ss_top_conns) */
	__u8 addr[16];    /* the peer; IPv4 as ::ffff:a.b.c.d */
	__u16 port;       /* host order */
	__u16 _pad0;
	__u32 _pad1;
};

/* A value of ss_top_peers. Shared by all CPUs: counters are added atomically. */
struct ss_top_peer {
	__u64 tx_bytes;   /* sent to the peer */
	__u64 rx_bytes;   /* received from it (MSG_PEEK excluded) */
	__u64 tx_dgrams;  /* send calls that named it: one datagram each */
	__u64 rx_dgrams;
	__u64 first_ns;   /* first datagram either way (CLOCK_MONOTONIC) */
	__u64 last_ns;
	__u32 flags;      /* ss_top_peer_flags */
	__u32 _pad0;
};

#endif /* SYSSTREAM_H */
