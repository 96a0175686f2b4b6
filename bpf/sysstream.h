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
	__u64 events;     /* records written */
	__u64 lost;       /* records dropped: ring buffer full */
	__u64 unreported; /* dropped and not yet announced by an ss_lost_event */
};

#endif /* SYSSTREAM_H */
