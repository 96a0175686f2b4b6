// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The floor of sysstream's hook design, for the benchmark: the same two BTF raw tracepoints
 * that `sysstream trace` attaches (every system call on the host passes through them), with
 * programs that do nothing. What a traced system call costs above this is sysstream's own work.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(ss_floor_enter, struct pt_regs *regs, long id)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(ss_floor_exit, struct pt_regs *regs, long ret)
{
	return 0;
}
