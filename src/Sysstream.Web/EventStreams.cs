using System.Threading.Channels;
using Sysstream.Bpf;
using Sysstream.Events;
using Sysstream.Filters;
using Sysstream.Output;

namespace Sysstream.Web;

/// <summary>
/// Live system-call events for the browser: each subscriber gets its own trace session with its
/// filters applied in the kernel (the same filters as `sysstream trace`), written as trace's JSON
/// lines into a bounded queue; lines the browser does not take in time are dropped and counted.
/// At most <see cref="MaxStreams"/> at once.
/// </summary>
public sealed class EventStreams
{
    public int MaxStreams { get; init; } = 2;

    private int _active;

    /// <summary>A running stream: read <see cref="Lines"/>; dispose to detach and unload.</summary>
    public sealed class Stream : IDisposable
    {
        private readonly TraceSession _session;
        private readonly RingBufferReader _reader;
        private readonly JsonEventWriter _writer;
        private readonly LineQueue _queue;
        private readonly Action _released;
        private int _disposed;

        internal Stream(TraceSession session, LineQueue queue, EventClock clock, Action released)
        {
            _session = session;
            _queue = queue;
            _released = released;
            _writer = new JsonEventWriter(queue, clock);
            _reader = new RingBufferReader(session, _writer) { PollIntervalMs = 50 };
            _reader.Start();
        }

        public ChannelReader<byte[]> Lines => _queue.Lines;

        public long Dropped => _queue.Dropped;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
                return;
            _reader.RequestStop();
            try
            {
                _reader.Join();
            }
            catch (SysstreamException)
            {
            }
            _reader.Dispose();
            _session.Dispose();
            _queue.Complete();
            _released();
        }
    }

    /// <summary>Starts a filtered trace; null when <see cref="MaxStreams"/> are already running.</summary>
    /// <exception cref="SysstreamException">The filter is bad, or loading failed.</exception>
    public Stream? Open(TraceFilter filter, bool exitsOnly)
    {
        if (Interlocked.Increment(ref _active) > MaxStreams)
        {
            Interlocked.Decrement(ref _active);
            return null;
        }
        try
        {
            TraceSession session = TraceSession.Start(new TraceOptions
            {
                Filter = filter,
                NoEnter = exitsOnly,
                RingBufferBytes = 4 * 1024 * 1024,
                WakeupBytes = 64 * 1024,
            });
            return new Stream(session, new LineQueue(4096), EventClock.FromSystem(), () => Interlocked.Decrement(ref _active));
        }
        catch
        {
            Interlocked.Decrement(ref _active);
            throw;
        }
    }

    /// <summary>A write-only stream that cuts what is written into lines and queues them, dropping when full.</summary>
    internal sealed class LineQueue : System.IO.Stream
    {
        private readonly Channel<byte[]> _lines;
        private readonly List<byte> _partial = new();
        private long _dropped;

        public LineQueue(int capacity) => _lines = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
            SingleWriter = true,
        });

        public ChannelReader<byte[]> Lines => _lines.Reader;

        public long Dropped => Interlocked.Read(ref _dropped);

        public void Complete() => _lines.Writer.TryComplete();

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            while (buffer.Length > 0)
            {
                int nl = buffer.IndexOf((byte)'\n');
                if (nl < 0)
                {
                    foreach (byte b in buffer)
                        _partial.Add(b);
                    return;
                }
                byte[] line;
                if (_partial.Count > 0)
                {
                    foreach (byte b in buffer[..nl])
                        _partial.Add(b);
                    line = _partial.ToArray();
                    _partial.Clear();
                }
                else
                {
                    line = buffer[..nl].ToArray();
                }
                if (!_lines.Writer.TryWrite(line))
                    Interlocked.Increment(ref _dropped);
                buffer = buffer[(nl + 1)..];
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Flush()
        {
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
