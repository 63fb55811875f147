"""Delivery workers: take pushes from the outbox, render them, send them, record the result.

One loop per channel that is on in this process. Each turn of a loop:

1. claim up to `batch` due rows of the channel with their send slots: storage hands out
   the slots of one schedule per channel rate that every worker of every process shares
   (`delivery_pace`), so together they send one even stream within the limit;
2. render them in the person's language (at delivery, so a set-based broadcast needs one
   payload and a language switch before delivery is honoured);
3. at each part's slot, mark its rows `sending` in one statement, then send them
   concurrently (a gated channel's requests are made ready first and wait at the send
   gate; on PostgreSQL a young claim's gate opens once the mark's statement is written);
4. record every outcome in one transaction: sent; 429 or network → pending again after the
   platform's retry-after or a backoff (and the channel pauses on a 429); unreachable
   (blocked, unsubscribed, outside Messenger's window) → re-routed to the person's next
   allowed channel, or undeliverable; a permanent error → failed.

Crash safety: a worker killed after claiming but before step 3 leaves `claimed` rows that
`recover` puts back to pending after the lease; rows killed in step 3 or 4 become
`uncertain` and are not sent again, because the platform may already have shown them and
no platform here has an idempotency key. A push is lost (marked, never sent) only by a
kill between its mark reaching the database and its request's write: for a gated channel
a fraction of a millisecond (README "Notifications", "Crashes").
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Coroutine, Hashable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.channels import send_gate
from bot.channels.base import ChannelAdapter, DeliveryResult, DeliveryStatus, Push, Remembered
from bot.channels.send_gate import SendGate
from bot.pushes import PushRenderer, RenderedPush
from core.channels import default_rates, policy_of
from core.delivery import RetryPolicy, Route, Topic, choose_route
from core.model import Channel, DialogState
from core.ports import AbstractUnitOfWorkFactory
from core.privacy import mask
from observability.logs import bind_ids
from storage.outbox import (
    FAILED,
    PENDING,
    SENT,
    UNDELIVERABLE,
    ClaimedPush,
    OutboxQueue,
    Outcome,
)

if TYPE_CHECKING:
    from observability.metrics import Metrics

log = logging.getLogger(__name__)

DEFAULT_LIMITS: Mapping[Channel, float] = default_rates()
"""Sends per second of each channel, from its row in `core.channels` (a channel registered
later is looked up there when its worker starts)."""


class PushSender(Protocol):
    """What delivery needs of a channel: a channel adapter, or the console of a chat."""

    async def send(self, user_id: str, push: Push) -> DeliveryResult: ...


def pace_margin(limit: float) -> float:
    """The share of a channel's limit its slots are taken at. A platform that counts every
    sliding second (as the fakes do) then sees no second over the limit when a part goes
    out a little late: the room is about 30 ms of a second. Above 100 a second a part
    gathers several sends and a few milliseconds of the platform's own jitter are many
    sends, so the room is 5 % there (3 % keeps the free 30 a second at 97 %)."""
    return 0.97 if limit <= 100 else 0.95


# A batch goes out in parts: the rows whose slots fall within this many seconds (and no
# more than `part_rows`), marked `sending` in one commit at the first slot and sent at
# once. A kill -9 after that commit and before the calls leaves rows `uncertain` that were
# never sent (lost); the rows of later parts are only `claimed` and go back to the queue.
PACE_SECONDS = 0.05
# Kept out of the lateness a part is allowed: requests of two processes that leave on time
# still reach the platform a few milliseconds apart or together, and a part checked on time
# still gathers its requests at the send gate before they leave (2 ms at the median, up to
# 17 ms, traced under the broadcast benchmark's load). 6 ms drew 0 to 16 refusals a
# broadcast from the strict fake; above 100 a second, where a part gathers several sends,
# 10 ms still let one through now and then in the two-process test at 200 a second.
JITTER_SECONDS = 0.010
JITTER_SECONDS_FAST = 0.020
# How long a part's sends may take to get their requests ready at the send gate; one that
# is not there by then (waiting for the person's own turn, say) goes when it gets there.
GATE_WAIT_SECONDS = 0.5
CALLS_IN_FLIGHT = 200  # platform calls of a process at once (below its connection pools)
# Up to this much is added at random to a wait for the schedule (`_loop`); the schedule is
# taken half a second ahead, so a worker that waits a little longer still has sends in hand.
CLAIM_WAIT_SPREAD = 0.02
RENDERED_KEPT = 64  # shared renderings kept (languages × events in flight)
PAID_LIMIT = 1000.0
"""Paid broadcast sends per second when a channel's paid rate is not set (Telegram's
allow_paid_broadcast allows up to 1,000)."""


def default_limit(channel: Channel) -> float:
    """The channel's default rate: its policy row's, or 10/s for a channel without one."""
    try:
        return policy_of(channel).rate
    except (KeyError, ValueError):
        return 10.0


def real_now() -> datetime:
    """Wall-clock time: rate limits and retries run on it even when the app clock is frozen."""
    return datetime.now(UTC)


@dataclass
class _Batch:
    """Rows claimed together: rendered, then sent at their slots (each part marked
    `sending` right before its calls), then recorded."""

    size: int
    limit: float = 0.0  # the limit its slots were taken under
    paid: bool = False
    ready: dict[int, tuple[ClaimedPush, RenderedPush]] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    claimed_at: float = field(default_factory=time.monotonic)  # time.monotonic()


def part_rows(limit: float) -> int:
    """The most rows one part may send at once under `limit`.

    A part's calls leave together, so a platform that counts every sliding second sees a
    step of that many: a second can hold the slots' rate and one part more. A third of the
    room the margin leaves under the limit keeps that, and a part a little late, within it.
    """
    room = limit * (1 - pace_margin(limit))
    return max(1, min(CALLS_IN_FLIGHT, int(room / 3)))


def lateness_allowed(limit: float) -> float:
    """How late a part may still go at its slots: a second's worth of slots plus one spans
    1/margin seconds, less what a part gathers at its first slot and the jitter kept (more
    above 100 a second). Later, its slots belong to other sends by now and it takes new
    ones."""
    margin = pace_margin(limit)
    rate = limit * margin
    if rate <= 0:
        return 0.002
    jitter = JITTER_SECONDS if limit <= 100 else JITTER_SECONDS_FAST
    return max(0.002, (1 / margin - 1) - (part_rows(limit) - 1) / rate - jitter)


def _ended(gate: SendGate, push_id: int, _: asyncio.Task[Any]) -> None:
    gate.ended(push_id)


def _shifted(
    units: list[list[tuple[ClaimedPush, RenderedPush]]], seconds: float
) -> list[list[tuple[ClaimedPush, RenderedPush]]]:
    """The units with their slots moved `seconds` on."""
    return [
        [(replace(push, send_at=push.send_at + seconds), rendered) for push, rendered in unit]
        for unit in units
    ]


@dataclass
class DeliverySettings:
    """Limits and timings of the workers."""

    limits: Mapping[Channel, float] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    batch: int = 50
    idle_poll_seconds: float = 0.5
    lease_seconds: float = 60.0
    send_timeout_seconds: float = 30.0
    in_flight: int = 8  # batches of one channel out at once in this process
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    # Channels that are on in the installation (re-routing picks among them); None: all.
    push_channels: frozenset[Channel] | None = None
    # Every Nth claim of a loop takes the oldest due rows whatever their lane, so bills
    # and reminders move (at a tenth of the rate at least) under a flood of alerts.
    oldest_every: int = 10
    # Topics sent as paid broadcasts per channel (Telegram's allow_paid_broadcast), their
    # own rate, and how long a channel stays on the free rate once the balance ran out.
    paid_topics: Mapping[Channel, frozenset[str]] = field(default_factory=dict)
    paid_limits: Mapping[Channel, float] = field(default_factory=dict)
    paid_pause_seconds: float = 600.0
    # Platform calls a second of this process per channel, where the platform counts calls
    # rather than messages (Viber with broadcast: 500 calls in 10 s); unset: not paced.
    call_limits: Mapping[Channel, float] = field(default_factory=dict)


class DeliveryWorkers:
    """The delivery loops of one process, over the channels that are on in it."""

    def __init__(
        self,
        queue: OutboxQueue,
        channels: Mapping[Channel, PushSender],
        renderer: PushRenderer,
        uow_factory: AbstractUnitOfWorkFactory,
        settings: DeliverySettings | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.queue = queue
        self.channels = dict(channels)
        self.renderer = renderer
        self.settings = settings or DeliverySettings()
        self._uow_factory = uow_factory
        self._metrics = metrics
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._paused_until: dict[Channel, datetime] = {}
        self._paid_paused_until: dict[Channel, datetime] = {}
        self._paid_off_until: dict[Channel, datetime] = {}
        self._claims: dict[tuple[Channel, bool], int] = {}
        self._next_call: dict[Channel, float] = {}
        self._calls = asyncio.Semaphore(CALLS_IN_FLIGHT)
        # One part gathers its call permits at a time: two parts each holding some and
        # waiting for the rest would wait for ever.
        self._gathering = asyncio.Lock()
        self._rendered: Remembered[Hashable, RenderedPush] = Remembered(RENDERED_KEPT)
        self._wake = asyncio.Event()

    @staticmethod
    def worker_id() -> str:
        """host:pid:random — what `claimed_by` shows an operator."""
        return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def start(self) -> None:
        """Start one loop per channel and the recovery loop."""
        self._stop.clear()
        for channel in self.channels:
            self._tasks.append(asyncio.create_task(self._loop(channel), name=f"deliver-{channel}"))
            if self.settings.paid_topics.get(channel):
                self._tasks.append(
                    asyncio.create_task(self._loop(channel, paid=True), name=f"paid-{channel}")
                )
        self._tasks.append(asyncio.create_task(self._recover_loop(), name="deliver-recover"))

    def wake(self) -> None:
        """Something was queued: look now instead of at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Finish the batch in hand and stop (a batch is bounded by the send timeout)."""
        self._stop.set()
        self._wake.set()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            try:
                await asyncio.wait_for(task, self.settings.send_timeout_seconds + 5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()

    async def _recover_loop(self) -> None:
        lease = timedelta(seconds=self.settings.lease_seconds)
        while not self._stop.is_set():
            try:
                requeued, uncertain = await self.queue.recover(real_now() - lease)
                if requeued or uncertain:
                    log.warning(
                        "delivery: %d claimed push(es) of a dead worker re-queued, %d uncertain",
                        requeued,
                        uncertain,
                    )
            except Exception:
                log.exception("delivery: recovery failed")
            await self._sleep(self.settings.lease_seconds / 2)

    async def _sleep(self, seconds: float) -> None:
        # Stopping: no sleep. Every loop shares `_wake`, and the first to wake clears it:
        # a loop that was busy when `stop` set it would sleep on through the stop (the
        # recovery loop for half a lease).
        if self._stop.is_set():
            return
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(seconds, 0.001))
        except TimeoutError:
            return
        self._wake.clear()

    def paid_on(self, channel: Channel) -> bool:
        """Whether the channel sends its paid topics as paid broadcasts now (chosen, and
        the balance did not run out lately)."""
        if not self.settings.paid_topics.get(channel):
            return False
        off = self._paid_off_until.get(channel)
        return off is None or off <= real_now()

    def _limit(self, channel: Channel, paid: bool) -> float:
        if paid:
            return self.settings.paid_limits.get(channel, PAID_LIMIT)
        return self.settings.limits.get(channel, default_limit(channel))

    def _topics(self, channel: Channel, paid: bool) -> list[str | None] | None:
        """The topics a claim takes: the paid ones for a paid claim; the others for a free
        claim while paid sends are on, else every topic (None)."""
        chosen = self.settings.paid_topics.get(channel) or frozenset()
        if paid:
            return list(sorted(chosen))
        if not self.paid_on(channel):
            return None
        return [t.value for t in Topic if t.value not in chosen] + [None]

    async def _loop(self, channel: Channel, paid: bool = False) -> None:
        """Claim as the rate allows and send in the background: a batch's sends and its
        record do not hold up the next claim (at 30/s a batch is 3 rows per 100 ms, and one
        turn of database and HTTP round trips takes longer than that). At most
        `in_flight` batches are out at once. A paid loop claims the paid topics at the
        paid rate, and idles while the channel is on the free rate."""
        limit = self._limit(channel, paid)
        pauses = self._paid_paused_until if paid else self._paused_until
        slots = asyncio.Semaphore(self.settings.in_flight)
        pending: set[asyncio.Task[None]] = set()

        async def deliver(batch: _Batch) -> None:
            try:
                await self._deliver(channel, batch)
            except Exception:
                log.exception("delivery: %s batch failed; its rows are recovered", channel.value)
            finally:
                slots.release()

        try:
            while not self._stop.is_set():
                paused = pauses.get(channel)
                if paused is not None and paused > real_now():
                    await asyncio.sleep((paused - real_now()).total_seconds())
                    continue
                if paid and not self.paid_on(channel):
                    await self._sleep(self.settings.idle_poll_seconds)
                    continue
                await slots.acquire()
                try:
                    batch, wait = await self._claim(channel, limit, paid)
                except Exception:
                    log.exception("delivery: %s claim failed; retrying", channel.value)
                    batch, wait = None, 1.0
                if batch is None:
                    slots.release()
                    if wait:
                        # Every worker told to wait for the same schedule would wake at the
                        # same instant, and the one that always wakes a hair first would win
                        # every claim while the others idle: a little chance shares them.
                        wait += random.uniform(0, CLAIM_WAIT_SPREAD)  # noqa: S311 (not a secret)
                    await self._sleep(wait or self.settings.idle_poll_seconds)
                    continue
                task = asyncio.create_task(deliver(batch))
                pending.add(task)
                task.add_done_callback(pending.discard)
        finally:
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def run_once(
        self, channel: Channel, limit: float | None = None, *, paid: bool = False
    ) -> tuple[int, float]:
        """One claim-render-send-record turn, awaited whole; (rows handled, seconds to wait
        if none). Tests and tools use it; the loop pipelines the same two halves."""
        if limit is None:
            limit = self._limit(channel, paid)
        batch, wait = await self._claim(channel, limit, paid)
        if batch is None:
            return 0, wait
        await self._deliver(channel, batch)
        return batch.size, 0.0

    async def _claim(
        self, channel: Channel, limit: float, paid: bool = False
    ) -> tuple[_Batch | None, float]:
        """Claim and render (the sends are paced and marked `sending` in `_deliver`)."""
        if paid and not self.paid_on(channel):
            return None, self.settings.idle_poll_seconds
        number = self._claims.get((channel, paid), 0) + 1
        self._claims[(channel, paid)] = number
        every = self.settings.oldest_every
        claimed_at = time.monotonic()  # before the claim: the lease runs from its `now`
        claimed, wait = await self.queue.claim(
            channel,
            self.settings.batch,
            limit * pace_margin(limit),
            real_now(),
            topics=self._topics(channel, paid),
            paid=paid,
            oldest_first=every > 0 and number % every == 0,
        )
        if not claimed:
            return None, wait
        batch = _Batch(size=len(claimed), limit=limit, paid=paid, claimed_at=claimed_at)
        for push in claimed:
            try:
                batch.ready[push.id] = (push, await self._render(push))
            except Exception as error:
                log.warning("delivery: push %s not rendered: %s", push.id, error)
                batch.outcomes.append(Outcome(push.id, FAILED, f"render: {error}"))
        await self._prefetch(channel, [push for push, _ in batch.ready.values()])
        return batch, 0.0

    async def _prefetch(self, channel: Channel, pushes: list[ClaimedPush]) -> None:
        """What the adapter will need to send the batch, read now in one go rather than
        per push between a part's `sending` mark and its calls (best effort: a send reads
        what it misses)."""
        adapter = self.channels[channel]
        users = [push.external_id for push in pushes if push.external_id]
        if not isinstance(adapter, ChannelAdapter) or not users:
            return
        try:
            await adapter.prefetch(users)
        except Exception as error:
            log.warning("delivery: %s read-ahead failed: %s", channel.value, type(error).__name__)

    async def _render(self, push: ClaimedPush) -> RenderedPush:
        """The push's replies; pushes that render alike (an alert in one language) are
        rendered once and share the result (nobody changes rendered replies)."""
        key = self.renderer.shared_key(push)
        if key is None:
            return await self.renderer.render(push)
        rendered = self._rendered.get(key)
        if rendered is None:
            rendered = await self.renderer.render(push)
            self._rendered.remember(key, rendered)
        return rendered

    async def _deliver(self, channel: Channel, batch: _Batch) -> None:
        """Send a claimed batch at its slots and record every outcome in one transaction.

        The batch goes out in parts of PACE_SECONDS' worth of slots: each part waits for
        its first slot, is marked `sending` (one short transaction), and its calls start.
        So the platform sees the even stream of the shared schedule within the limit, and
        a worker killed mid-batch leaves only the parts it had started `uncertain`; the
        rest are still `claimed` and go back to the queue. Identical pushes go together
        where the channel has a broadcast call.
        """
        adapter = self.channels[channel]
        singles, groups = self._grouped(adapter, list(batch.ready.values()))
        units = [[item] for item in singles] + groups
        units.sort(key=lambda unit: (unit[0][0].send_at, unit[0][0].id))
        started: list[tuple[list[tuple[ClaimedPush, RenderedPush]], asyncio.Task[Any]]] = []
        most = part_rows(batch.limit)
        late = lateness_allowed(batch.limit)
        marked: set[int] = set()
        index = 0
        while index < len(units):
            # A part: the units whose slots fall within PACE_SECONDS of its first one, no
            # more than `most` rows.
            due = units[index][0][0].send_at
            part: list[list[tuple[ClaimedPush, RenderedPush]]] = []
            rows = 0
            while (
                index < len(units)
                and units[index][0][0].send_at < due + PACE_SECONDS
                and (not part or rows + len(units[index]) <= most)
            ):
                part.append(units[index])
                rows += len(units[index])
                index += 1
            pauses = self._paid_paused_until if batch.paid else self._paused_until
            paused = pauses.get(channel)
            if paused is not None and paused > real_now():
                await asyncio.sleep((paused - real_now()).total_seconds())
            if due > time.time():
                await asyncio.sleep(due - time.time())
            elif time.time() > due + late:
                # Slots that passed unused (a 429's pause, a stalled process) are not made
                # up for on top of other workers' sends: the part, and every later one as
                # late, takes new slots after the last one taken, in one round trip (the
                # batch's other parts keep theirs).
                now = time.time()
                while index < len(units) and units[index][0][0].send_at + late < now:
                    part.append(units[index])
                    rows += len(units[index])
                    index += 1
                log.debug("delivery: %d rows %.0f ms late take new slots", rows, (now - due) * 1e3)
                start = await self.queue.reschedule(
                    channel, batch.paid, rows, batch.limit * pace_margin(batch.limit)
                )
                units = sorted(
                    units[index:] + _shifted(part, start - due),
                    key=lambda unit: (unit[0][0].send_at, unit[0][0].id),
                )
                index = 0
                continue
            # A call waits for nothing once its row is `sending` (no free connection, say):
            # a crash then can only catch calls that are already on their way.
            async with self._gathering:
                for _ in part:
                    await self._calls.acquire()
            ids = [push.id for unit in part for push, _ in unit]
            if isinstance(adapter, ChannelAdapter) and adapter.gated:
                young = time.monotonic() - batch.claimed_at < self.settings.lease_seconds / 4
                marked |= await self._gated_part(channel, part, ids, started, early=young)
                continue
            # Right before the calls: from here a crash leaves them `uncertain`.
            try:
                marked |= await self.queue.mark_sending(ids)
            except BaseException:
                for _ in part:
                    self._calls.release()
                raise
            for unit in part:
                members = [(push, rendered) for push, rendered in unit if push.id in marked]
                if not members:
                    self._calls.release()
                    continue  # recovered by another worker meanwhile
                task = asyncio.create_task(self._unit_work(channel, members))
                task.add_done_callback(lambda _: self._calls.release())
                started.append((members, task))
        await asyncio.gather(*(task for _, task in started), return_exceptions=True)
        steps: list[DialogState] = []
        outcomes = list(batch.outcomes)
        for members, task in started:
            answer: Any = task.exception() or task.result()
            for push, rendered in members:
                if push.id not in marked:
                    continue  # refused at the gate: another worker holds it now
                result = answer.get(push.id) if isinstance(answer, dict) else answer
                if not isinstance(result, DeliveryResult):
                    result = DeliveryResult(DeliveryStatus.RETRY_LATER, detail=repr(result))
                outcomes.append(await self._outcome(push, result))
                if result.status == DeliveryStatus.SENT and rendered.step is not None:
                    steps.append(rendered.step)
                if self._metrics is not None:
                    self._metrics.outbound.labels(
                        f"push-{channel.value}", result.status.value
                    ).inc()
        await self.queue.finish(outcomes, real_now())
        for step in steps:
            await self.queue.offer_step(step.channel, step.user_id, step.state, step.data)

    def _unit_work(
        self, channel: Channel, members: list[tuple[ClaimedPush, RenderedPush]]
    ) -> Coroutine[Any, Any, Any]:
        """The send of one push, or one broadcast call for several."""
        if len(members) == 1:
            return self._send(*members[0])
        return self._send_group(channel, members)

    async def _gated_part(
        self,
        channel: Channel,
        part: list[list[tuple[ClaimedPush, RenderedPush]]],
        ids: list[int],
        started: list[tuple[list[tuple[ClaimedPush, RenderedPush]], asyncio.Task[Any]]],
        *,
        early: bool = False,
    ) -> set[int]:
        """Start the part's sends, let each prepare its request and wait at the send gate,
        then mark them `sending` and open the gate: a crash after the mark can only catch
        requests that are ready to leave. The ids marked (the others are refused).

        `early` (a claim far from its lease's end): where the queue can tell when the
        mark's statement is on the wire (PostgreSQL), the gate opens right then, not a
        commit's round trip later: a worker killed in between would leave marked rows
        whose calls never left. No other worker can have taken a row of so young a claim;
        should the answer say otherwise, or never come, the calls went all the same and
        are recorded as such (a row recorded `sent` is not sent again by anyone)."""
        gate = SendGate(len(part))
        for unit in part:
            push_id = unit[0][0].id
            context = contextvars.copy_context()
            context.run(send_gate.CURRENT.set, (gate, push_id))
            task = asyncio.create_task(self._unit_work(channel, unit), context=context)
            task.add_done_callback(functools.partial(_ended, gate, push_id))
            task.add_done_callback(lambda _: self._calls.release())
            started.append((unit, task))
        await gate.arrived(GATE_WAIT_SECONDS)
        try:
            answer = await self.queue.mark_on_the_wire(ids) if early else None
            marked = set(ids) if answer is not None else await self.queue.mark_sending(ids)
        except BaseException:
            # Nothing marked, nothing goes: the refused sends end before the error is
            # passed on (their rows are still claimed and come back after the lease).
            gate.open(())
            await asyncio.gather(
                *(task for _, task in started[-len(part) :]), return_exceptions=True
            )
            raise
        gate.open(marked)
        if answer is not None:
            # Once the gate is open the calls go whatever becomes of this wait.
            await self._mark_answered(channel, answer, len(ids))
        return marked

    @staticmethod
    async def _mark_answered(
        channel: Channel, answer: asyncio.Future[set[int]], expected: int
    ) -> None:
        """Wait for the answer of a mark whose calls have gone; a short or failed answer
        is logged (the calls are recorded all the same)."""
        try:
            marked = await answer
        except Exception as error:
            log.warning(
                "delivery: %s mark of %d calls already sent failed: %s",
                channel.value,
                expected,
                type(error).__name__,
            )
            return
        if len(marked) < expected:
            log.warning(
                "delivery: %s mark found %d of %d rows still claimed; their calls had gone",
                channel.value,
                len(marked),
                expected,
            )

    @staticmethod
    def _envelope(push: ClaimedPush, rendered: RenderedPush) -> Push:
        return Push(rendered.replies, push.topic or None, rendered.subject, paid=push.paid)

    def _grouped(
        self, adapter: PushSender, items: list[tuple[ClaimedPush, RenderedPush]]
    ) -> tuple[
        list[tuple[ClaimedPush, RenderedPush]], list[list[tuple[ClaimedPush, RenderedPush]]]
    ]:
        """(pushes sent one by one, groups of identical pushes for one broadcast call each)."""
        # Only a channel adapter may broadcast (a console chat or a test's sender cannot).
        limit = adapter.broadcast_limit if isinstance(adapter, ChannelAdapter) else 0
        if not isinstance(adapter, ChannelAdapter) or limit < 2:
            return items, []
        singles: list[tuple[ClaimedPush, RenderedPush]] = []
        alike: dict[Hashable, list[tuple[ClaimedPush, RenderedPush]]] = {}
        for push, rendered in items:
            key = (
                adapter.broadcast_key(self._envelope(push, rendered)) if push.external_id else None
            )
            if key is None:
                singles.append((push, rendered))
                continue
            alike.setdefault((push.topic, push.paid, key), []).append((push, rendered))
        groups: list[list[tuple[ClaimedPush, RenderedPush]]] = []
        for members in alike.values():
            group: list[tuple[ClaimedPush, RenderedPush]] = []
            users: set[str] = set()
            for member in members:
                user = member[0].external_id or ""
                if user in users:  # one person twice (two events alike): on its own
                    singles.append(member)
                    continue
                users.add(user)
                group.append(member)
                if len(group) == limit:
                    groups.append(group)
                    group, users = [], set()
            if len(group) == 1:
                singles.extend(group)
            elif group:
                groups.append(group)
        return singles, groups

    async def _send_group(
        self, channel: Channel, members: list[tuple[ClaimedPush, RenderedPush]]
    ) -> dict[int, DeliveryResult]:
        """One broadcast call for identical pushes; the outcome per push."""
        adapter = self.channels[channel]
        if not isinstance(adapter, ChannelAdapter):  # _grouped made no group for it
            raise TypeError(f"{channel} cannot broadcast")
        ids = {push.external_id or "": push.id for push, _ in members}
        await self._pace(channel)
        async with asyncio.timeout(self.settings.send_timeout_seconds):
            answers = await adapter.broadcast(list(ids), self._envelope(*members[0]))
        missing = DeliveryResult(DeliveryStatus.RETRY_LATER, detail="no answer for the person")
        return {push_id: answers.get(user_id, missing) for user_id, push_id in ids.items()}

    async def _pace(self, channel: Channel) -> None:
        """Keep this process's platform calls of the channel within its call rate (Viber
        counts calls, and a broadcast call carries up to 300 rows)."""
        rate = self.settings.call_limits.get(channel)
        if not rate:
            return
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next_call.get(channel, now))
        self._next_call[channel] = slot + 1.0 / rate
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _send(self, push: ClaimedPush, rendered: RenderedPush) -> DeliveryResult:
        bind_ids(push_id=str(push.id))  # a task of its own (gather): tags this push's lines
        adapter = self.channels[push.channel]
        # A messenger identity is addressed by its user id there; an address channel
        # (e-mail) by the person's address.
        user_id = push.external_id if policy_of(push.channel).messenger else push.email
        if not user_id:
            return DeliveryResult(DeliveryStatus.UNREACHABLE, detail="no address")
        await self._pace(push.channel)
        async with asyncio.timeout(self.settings.send_timeout_seconds):
            result = await adapter.send(user_id, self._envelope(push, rendered))
        self._pause_on(push.channel, push.paid, result)
        return result

    def _pause_on(self, channel: Channel, paid: bool, result: DeliveryResult) -> None:
        """A 429 is about the bot: the channel's paid or free sends wait `retry_after` from
        now (the parts of batches in hand too, not only the next claim)."""
        if result.status == DeliveryStatus.RETRY_LATER and result.retry_after > 0:
            pauses = self._paid_paused_until if paid else self._paused_until
            until = real_now() + timedelta(seconds=result.retry_after)
            pauses[channel] = max(pauses.get(channel, until), until)

    async def _outcome(self, push: ClaimedPush, result: DeliveryResult) -> Outcome:
        policy = self.settings.policy
        if result.status == DeliveryStatus.SENT:
            return Outcome(push.id, SENT)
        if result.status == DeliveryStatus.RETRY_LATER:
            if policy.gives_up(push.attempts):
                return Outcome(push.id, FAILED, f"gave up: {result.detail}")
            delay = policy.delay(push.attempts, result.retry_after)
            if result.retry_after > 0:
                # A 429 is about the bot, not the person: the whole channel (its paid or
                # its free sends) waits.
                pauses = self._paid_paused_until if push.paid else self._paused_until
                pauses[push.channel] = real_now() + timedelta(seconds=result.retry_after)
            return Outcome(
                push.id,
                PENDING,
                result.detail,
                next_attempt_at=real_now() + timedelta(seconds=delay),
            )
        if result.status == DeliveryStatus.NO_FUNDS:
            # The paid send was refused for lack of Stars: this push goes again at once on
            # the free rate, and so does the channel's paid traffic for a while.
            pause = self.settings.paid_pause_seconds
            if self.paid_on(push.channel):
                log.warning(
                    "delivery: %s paid broadcast refused (%s): free rate for %.0f s",
                    push.channel.value,
                    result.detail,
                    pause,
                )
            self._paid_off_until[push.channel] = real_now() + timedelta(seconds=pause)
            return Outcome(push.id, PENDING, result.detail)
        if result.status == DeliveryStatus.UNREACHABLE:
            route = await self._next_route(push)
            who = mask(push.external_id or push.email)
            if route is None:
                log.info("delivery: push %s to %s undeliverable: %s", push.id, who, result.detail)
                return Outcome(push.id, UNDELIVERABLE, result.detail)
            log.info(
                "delivery: push %s re-routed %s → %s (%s)",
                push.id,
                push.channel.value,
                route.channel.value,
                result.detail,
            )
            return Outcome(
                push.id,
                PENDING,
                result.detail,
                identity_id=route.identity_id,
                channel=route.channel,
            )
        return Outcome(push.id, FAILED, result.detail)

    async def _next_route(self, push: ClaimedPush) -> Route | None:
        if push.person_id is None:
            return None
        routes = [
            Route(channel, identity_id, last, reachable)
            for identity_id, channel, _external, reachable, last in await self.queue.routes_of(
                push.person_id
            )
            if identity_id != push.identity_id
        ]
        async with self._uow_factory() as uow:
            prefs = await uow.persons.prefs(push.person_id)
            person = await uow.persons.get(push.person_id)
        if person is not None and person.email and push.channel != Channel.EMAIL:
            routes.append(Route(Channel.EMAIL, None))
        # Only channels this process (or another) can deliver on are worth a re-route;
        # the ranks in core.delivery pick among them as enqueueing did.
        return choose_route(
            routes,
            prefs,
            push.topic or Topic.ANSWERS,
            real_now(),
            exclude=(push.channel,),
            on=self.settings.push_channels,
        )


class InlineDelivery:
    """Delivery for one console chat (`kabinet demo`, `kabinet chat`): its pushes appear
    in the chat as they would in a messenger.

    One pass at a time, under a lock: in the background as soon as something is queued
    (or every `poll_seconds`), and on demand (`drain`) before the console prints its
    prompt, so whatever a turn queued (a payment's thanks) is shown within that turn.
    """

    def __init__(
        self, workers: DeliveryWorkers, channel: Channel, poll_seconds: float = 0.5
    ) -> None:
        self.workers = workers
        self.channel = channel
        self.poll_seconds = poll_seconds
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stopping = False
        self._recovered_at: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Deliver in the background until `stop`."""
        self._task = asyncio.create_task(self._loop(), name=f"deliver-{self.channel}")

    def wake(self) -> None:
        """Something was queued: deliver now."""
        self._wake.set()

    async def drain(self) -> None:
        """Deliver everything due now, after any pass already under way."""
        async with self._lock:
            await self._recover()
            while (await self.workers.run_once(self.channel))[0]:
                pass

    async def stop(self) -> None:
        """Stop the background loop; a pass under way finishes first (never cut mid-send)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            await asyncio.gather(task, return_exceptions=True)

    async def _recover(self) -> None:
        # Rows a killed earlier chat had claimed go back to pending after the lease; looked
        # for at start and then every half lease, as the serve workers do.
        lease = timedelta(seconds=self.workers.settings.lease_seconds)
        now = real_now()
        if self._recovered_at is not None and now - self._recovered_at < lease / 2:
            return
        self._recovered_at = now
        await self.workers.queue.recover(now - lease)

    async def _loop(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.drain()
            except Exception:
                log.exception("delivery: %s pass failed; retrying", self.channel.value)


class Pushes:
    """The delivery workers and (optionally) the scheduler of one `kabinet serve` process
    (or the inline delivery of a console chat)."""

    def __init__(
        self, workers: DeliveryWorkers | InlineDelivery | None, scheduler: Any = None
    ) -> None:
        self.workers = workers
        self.scheduler = scheduler
        self._stopped = False

    def queued(self) -> None:
        """Pushes were queued in this process: deliver now rather than at the next poll."""
        if self.workers is not None:
            self.workers.wake()

    async def start(self) -> None:
        """Start the workers, then the scheduler."""
        if self.workers is not None:
            self.workers.start()
        if self.scheduler is not None:
            self.scheduler.start()

    async def stop(self) -> None:
        """Stop the scheduler (releasing its lock), then the workers; once."""
        if self._stopped:
            return
        self._stopped = True
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.workers is not None:
            await self.workers.stop()
