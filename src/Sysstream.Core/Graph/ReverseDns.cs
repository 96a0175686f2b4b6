using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Sysstream.Graph;

/// <summary>
/// Reverse DNS names for remote addresses: a lookup starts in the background the first time an
/// address is asked for, with a short timeout and at most a few at once; the answer (or its
/// absence) is cached. <see cref="TryGet"/> never waits: the map shows the address until a name
/// comes. Loopback, link-local and unspecified addresses are never looked up.
/// </summary>
public sealed class ReverseDns : IHostNames, IDisposable
{
    private readonly ConcurrentDictionary<IPAddress, Entry> _cache = new();
    private readonly SemaphoreSlim _slots;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _retryAfter;
    private readonly Func<IPAddress, CancellationToken, Task<string?>> _resolve;
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Cached names at most; beyond it the oldest half is dropped.</summary>
    public int Capacity { get; init; } = 4096;

    private sealed record Entry(string? Name, DateTime At, bool Done);

    public ReverseDns(TimeSpan? timeout = null, int concurrency = 4, Func<IPAddress, CancellationToken, Task<string?>>? resolve = null)
    {
        _timeout = timeout ?? TimeSpan.FromSeconds(1);
        _retryAfter = TimeSpan.FromMinutes(5);
        _slots = new SemaphoreSlim(concurrency);
        _resolve = resolve ?? SystemResolve;
    }

    public string? TryGet(IPAddress address)
    {
        if (IPAddress.IsLoopback(address) || address.IsIPv6LinkLocal || Aggregation.Endpoints.IsUnspecified(address)
            || (address.AddressFamily == AddressFamily.InterNetwork && address.GetAddressBytes() is [169, 254, ..]))
            return null;
        DateTime now = DateTime.UtcNow;
        if (_cache.TryGetValue(address, out Entry? e) && (!e.Done || e.Name is not null || now - e.At < _retryAfter))
            return e.Name;
        if (_cache.Count >= Capacity)
            Trim();
        if (_cache.TryAdd(address, new Entry(null, now, false)) || (e is not null && _cache.TryUpdate(address, new Entry(null, now, false), e)))
            _ = LookupAsync(address);
        return null;
    }

    private async Task LookupAsync(IPAddress address)
    {
        string? name = null;
        try
        {
            await _slots.WaitAsync(_stop.Token).ConfigureAwait(false);
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                cts.CancelAfter(_timeout);
                name = await _resolve(address, cts.Token).WaitAsync(cts.Token).ConfigureAwait(false);
            }
            finally
            {
                _slots.Release();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ArgumentException or TimeoutException)
        {
        }
        if (name is not null && (name.Length == 0 || name == address.ToString()))
            name = null;
        _cache[address] = new Entry(name, DateTime.UtcNow, true);
    }

    private static async Task<string?> SystemResolve(IPAddress address, CancellationToken ct)
    {
        IPHostEntry entry = await Dns.GetHostEntryAsync(address.ToString(), ct).ConfigureAwait(false);
        return entry.HostName;
    }

    private void Trim()
    {
        foreach (var kv in _cache.OrderBy(kv => kv.Value.At).Take(_cache.Count / 2).ToList())
            _cache.TryRemove(kv.Key, out _);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
