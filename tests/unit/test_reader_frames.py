"""The reader process hands batches to the rebuild as frames (`gongkai.readerprocess`): what comes out is what
went in, read as the rebuild reads nats-py's messages."""

from nats.aio.msg import Msg

from gongkai.pull import Headers, position_of, seq_of
from gongkai.readerprocess import BATCH, frame, messages


def test_a_batch_comes_out_of_its_frame_as_it_went_in():
    sent = [
        Msg(None, subject="gongkai.events.item.a1", reply="$JS.ACK.GONGKAI.c.1.41.1.1700000000000000000.9",
                        headers=Headers(b"Nats-Msg-Id: e1\r\nGongkai-Type: item.drafted\r\n\r\n"),
                        data='{"title": "关于做好工作的通知"}'.encode()),
        Msg(None, subject="gongkai.events.index.b2",  # headers as nats-py's own dict, and none at all
                        reply="$JS.ACK.hub.ACCHASH.GONGKAI.c.1.42.2.1700000000000000000.8.tok",
                        headers={"Nats-Msg-Id": "e2"}, data=b"{}"),
        Msg(None, subject="gongkai.events.item.c3", reply="$JS.ACK.GONGKAI.c.1.43.3.1700000000000000000.7",
                        headers=None, data=b""),
    ]
    data = frame(7, sent, 43, ended=True)
    generation, count, last, ended, size = BATCH.unpack_from(data)
    assert (generation, count, last, ended, size) == (7, 3, 43, True, len(data) - BATCH.size)
    got = messages(data[BATCH.size:], count)
    assert [(m.subject, m.reply, m.data) for m in got] == [(m.subject, m.reply, m.data) for m in sent]
    assert [dict(m.headers) if m.headers else None for m in got] == [
        {"Nats-Msg-Id": "e1", "Gongkai-Type": "item.drafted"}, {"Nats-Msg-Id": "e2"}, None]
    assert [seq_of(m) for m in got] == [41, 42, 43]  # (the second names a domain: read by nats-py's parser)
    assert [m.position for m in got] == [position_of(m) for m in sent] == [(41, 9), (42, 8), (43, 7)]
    assert frame(1, [], 43)[:BATCH.size] == BATCH.pack(1, 0, 43, False, 0)
