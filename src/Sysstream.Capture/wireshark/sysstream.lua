-- sysstream.lua: filterable fields for the files `sysstream capture` writes.
--
-- Packets: every packet carries one comment per end whose process sysstream knows,
--   "sysstream: dir=out pid=123 tid=123 comm=curl ppid=1 pcomm=bash uid=0 user=root ... cmd=\"...\""
-- This post-dissector turns each such comment into fields (sysstream.pid, sysstream.comm ...),
-- so display filters work:  sysstream.comm == "curl" && sysstream.uid == 1000
-- A packet between two local processes has both ends: sysstream.pid occurs twice (any of them
-- matches a filter); sysstream.out.* are the sender's, sysstream.in.* the receiver's:
--   sysstream.out.comm == "curl"   packets curl sent
--   sysstream.in.pid == 4242       packets delivered to process 4242
--
-- System calls: sysstream's custom blocks (PEN 32473, data starting with "SSTM") show as
-- "sysstream" rows with fields sysstream.call.* (func, phase, pid, comm, fd, ret, bytes ...).
--
-- Use:  tshark -X lua_script:sysstream.lua -r out.pcapng -Y 'sysstream.pid == 4242'
-- GUI:  copy this file to ~/.local/lib/wireshark/plugins/ (Wireshark 4.x; older versions use
--       ~/.config/wireshark/plugins/) and restart Wireshark; Help > About > Plugins lists it.

local sysstream = Proto("sysstream", "sysstream process context")

-- The context of one end: each field once per end of the packet ("sysstream.pid"), and again
-- under the end's direction ("sysstream.out.pid": the sender; "sysstream.in.pid": the receiver).
local context_fields = {
    { "pid", "uint32", "Process ID" },
    { "tid", "uint32", "Thread ID" },
    { "comm", "string", "Thread name" },
    { "ppid", "uint32", "Parent process ID" },
    { "pcomm", "string", "Parent's name" },
    { "uid", "uint32", "User ID" },
    { "user", "string", "User" },
    { "gid", "uint32", "Group ID" },
    { "group", "string", "Group" },
    { "cgroup", "string", "cgroup" },
    { "container", "string", "Container ID" },
    { "fd", "int32", "Socket descriptor" },
    { "syscall", "string", "Last system call on the socket" },
    { "cookie", "uint64", "Socket cookie" },
    { "owner", "string", "Owner (none: no process; connection: the connection's last user)" },
    { "cmdline", "string", "Command line" },
}

local F, F_out, F_in = {}, {}, {}
local fields = {}
for _, d in ipairs(context_fields) do
    local name, kind, label = d[1], d[2], d[3]
    F[name] = ProtoField[kind]("sysstream." .. name, label)
    F_out[name] = ProtoField[kind]("sysstream.out." .. name, label .. " (sender)")
    F_in[name] = ProtoField[kind]("sysstream.in." .. name, label .. " (receiver)")
    fields[#fields + 1] = F[name]
    fields[#fields + 1] = F_out[name]
    fields[#fields + 1] = F_in[name]
end

local more = {
    dir           = ProtoField.string("sysstream.dir", "End", base.ASCII, "out: the process of the sending socket; in: of the receiving one"),
    comment       = ProtoField.string("sysstream.comment", "Context"),
    call_func     = ProtoField.string("sysstream.call.func", "System call"),
    call_phase    = ProtoField.string("sysstream.call.phase", "Phase"),
    call_pid      = ProtoField.uint32("sysstream.call.pid", "Process ID"),
    call_tid      = ProtoField.uint32("sysstream.call.tid", "Thread ID"),
    call_comm     = ProtoField.string("sysstream.call.comm", "Thread name"),
    call_ppid     = ProtoField.uint32("sysstream.call.ppid", "Parent process ID"),
    call_pcomm    = ProtoField.string("sysstream.call.pcomm", "Parent's name"),
    call_uid      = ProtoField.uint32("sysstream.call.uid", "User ID"),
    call_gid      = ProtoField.uint32("sysstream.call.gid", "Group ID"),
    call_fd       = ProtoField.int32("sysstream.call.fd", "Descriptor"),
    call_ret      = ProtoField.int64("sysstream.call.ret", "Return value"),
    call_bytes    = ProtoField.uint64("sysstream.call.req_bytes", "Bytes requested"),
    call_duration = ProtoField.uint64("sysstream.call.duration_ns", "Duration (ns)"),
    call_cookie   = ProtoField.uint64("sysstream.call.cookie", "Socket cookie"),
    call_cpu      = ProtoField.uint32("sysstream.call.cpu", "CPU"),
    lost_count    = ProtoField.uint64("sysstream.lost", "Records lost in the kernel"),
}
for k, f in pairs(more) do
    F[k] = f
    fields[#fields + 1] = f
end
sysstream.fields = fields

local comment_field = Field.new("frame.comment")

local numeric = { pid = true, tid = true, ppid = true, uid = true, gid = true, fd = true, cookie = true }
local aliases = { cmd = "cmdline" }

-- Splits 'key=value key="quoted \"value\""' into a list of {key, value}.
local function parse_pairs(s)
    local out, i, n = {}, 1, #s
    while i <= n do
        while i <= n and s:sub(i, i) == " " do i = i + 1 end
        if i > n then break end
        local eq = s:find("=", i, true)
        if not eq then break end
        local key = s:sub(i, eq - 1)
        local value
        i = eq + 1
        if s:sub(i, i) == '"' then
            local buf = {}
            i = i + 1
            while i <= n do
                local ch = s:sub(i, i)
                if ch == "\\" and i < n then
                    local nx = s:sub(i + 1, i + 1)
                    if nx == "n" then buf[#buf + 1] = "\n"; i = i + 2
                    elseif nx == "t" then buf[#buf + 1] = "\t"; i = i + 2
                    elseif nx == "x" then
                        buf[#buf + 1] = string.char(tonumber(s:sub(i + 2, i + 3), 16) or 63); i = i + 4
                    else buf[#buf + 1] = nx; i = i + 2 end
                elseif ch == '"' then
                    i = i + 1
                    break
                else
                    buf[#buf + 1] = ch
                    i = i + 1
                end
            end
            value = table.concat(buf)
        else
            local sp = s:find(" ", i, true) or (n + 1)
            value = s:sub(i, sp - 1)
            i = sp
        end
        out[#out + 1] = { key, value }
    end
    return out
end

local function add_context(tree, text)
    local sub = tree:add(sysstream, text:sub(12))
    sub:add(F.comment, text)
    local pairs_ = parse_pairs(text:sub(12))
    local by_dir = F_out
    for _, kv in ipairs(pairs_) do
        if kv[1] == "dir" and kv[2] == "in" then by_dir = F_in end
    end
    for _, kv in ipairs(pairs_) do
        local key, value = aliases[kv[1]] or kv[1], kv[2]
        local targets = { F[key], key ~= "dir" and by_dir[key] or nil }
        for _, field in ipairs(targets) do
            if numeric[key] then
                local num = tonumber(value) or 0
                if key == "cookie" then
                    sub:add(field, UInt64.new(num % 4294967296, math.floor(num / 4294967296)))
                else
                    sub:add(field, num)
                end
            else
                sub:add(field, value)
            end
        end
    end
end

-- enum ss_func of bpf/sysstream.h (a unit test checks this list against the C# names).
local funcs = { [0] = "none", "socket", "socketpair", "bind", "listen", "connect", "accept", "accept4",
    "sendto", "sendmsg", "sendmmsg", "recvfrom", "recvmsg", "recvmmsg", "read", "readv", "write",
    "writev", "sendfile", "splice", "close", "shutdown" }

local function cstring(tvb, offset, len)
    local s = tvb(offset, len):string()
    local z = s:find("\0", 1, true)
    return z and s:sub(1, z - 1) or s
end

-- A sysstream custom block: "SSTM", kind u16, version u16, length u32, then the payload
-- (ss_syscall_event of bpf/sysstream.h, version 1 offsets).
local function dissect_block(tvb, pinfo, tree)
    local kind = tvb(4, 2):le_uint()
    local p = 12
    if kind == 2 or kind == 3 then
        if tvb:len() < p + 176 then return end
        local func = funcs[tvb(p + 3, 1):uint()] or "?"
        local phase = tvb(p + 2, 1):uint() == 1 and "exit" or "enter"
        local pid, comm = tvb(p + 56, 4):le_uint(), cstring(tvb, p + 144, 16)
        local sub = tree:add(sysstream, tvb(0, p + 176), "sysstream system call: " .. func .. " " .. phase)
        sub:add(F.call_func, func)
        sub:add(F.call_phase, phase)
        sub:add_le(F.call_cpu, tvb(p + 4, 4))
        sub:add_le(F.call_pid, tvb(p + 56, 4))
        sub:add_le(F.call_tid, tvb(p + 60, 4))
        sub:add(F.call_comm, tvb(p + 144, 16), comm)
        sub:add_le(F.call_ppid, tvb(p + 64, 4))
        sub:add(F.call_pcomm, tvb(p + 160, 16), cstring(tvb, p + 160, 16))
        sub:add_le(F.call_uid, tvb(p + 68, 4))
        sub:add_le(F.call_gid, tvb(p + 72, 4))
        sub:add_le(F.call_fd, tvb(p + 76, 4))
        sub:add_le(F.call_bytes, tvb(p + 40, 8))
        sub:add_le(F.call_cookie, tvb(p + 88, 8))
        local info = string.format("%s %s pid=%d comm=%s fd=%d", func, phase, pid, comm, tvb(p + 76, 4):le_int())
        if phase == "exit" then
            sub:add_le(F.call_ret, tvb(p + 32, 8))
            sub:add_le(F.call_duration, tvb(p + 16, 8))
            info = info .. " ret=" .. tostring(tvb(p + 32, 8):le_int64())
        end
        pinfo.cols.protocol = "sysstream"
        pinfo.cols.info = info
    elseif kind == 4 or kind == 5 then
        if tvb:len() < p + 24 then return end
        local sub = tree:add(sysstream, tvb(0, p + 24), "sysstream: records lost in the kernel")
        sub:add_le(F.call_cpu, tvb(p + 4, 4))
        sub:add_le(F.lost_count, tvb(p + 16, 8))
        pinfo.cols.protocol = "sysstream"
        pinfo.cols.info = string.format("%s lost: %s on cpu %d", kind == 4 and "system calls" or "packets",
            tostring(tvb(p + 16, 8):le_uint64()), tvb(p + 4, 4):le_uint())
    elseif kind == 1 then
        pinfo.cols.protocol = "sysstream"
        pinfo.cols.info = "sysstream capture session"
        tree:add(sysstream, tvb(), "sysstream capture session: " .. tvb(p + 8):string())
    end
end

function sysstream.dissector(tvb, pinfo, tree)
    local comments = { comment_field() }
    for _, c in ipairs(comments) do
        local text = c.value
        if type(text) == "string" and text:sub(1, 11) == "sysstream: " then
            add_context(tree, text)
        end
    end
    if #comments == 0 and tvb:len() >= 12 and tvb(0, 4):string() == "SSTM" then
        dissect_block(tvb, pinfo, tree)
    end
end

register_postdissector(sysstream)
