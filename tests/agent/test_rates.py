"""Counters -> rates, and the pure halves of the probes, on hand-made readings."""
from __future__ import annotations

from agent.probes import cpu, disk, memory, network
from agent.rates import CounterSample, bits_per_second, per_second, rates


def test_it_gives_no_rate_on_the_first_sample() -> None:
    assert per_second(None, 1000.0, 10.0) is None
    assert rates(None, CounterSample(5.0, {"rx": 10.0})) == {"rx": None}


def test_it_gives_no_rate_after_a_counter_reset() -> None:
    # a reboot or a driver reload restarts the counter at 0: no negative, no fake zero
    assert per_second(5_000.0, 200.0, 10.0) is None


def test_it_gives_no_rate_when_no_time_elapsed() -> None:
    assert per_second(100.0, 200.0, 0.0) is None


def test_it_divides_the_delta_by_the_elapsed_seconds() -> None:
    previous = CounterSample(100.0, {"a": 1_000.0, "b": 7.0})
    current = CounterSample(110.0, {"a": 6_000.0, "b": 7.0, "new": 3.0})
    # a: (6000 - 1000) / 10 = 500 per second; b unchanged = 0; new: no previous value
    assert rates(previous, current) == {"a": 500.0, "b": 0.0, "new": None}


def test_it_turns_network_bytes_into_bits_per_second() -> None:
    before = network.NetworkReading({"eth0": CounterSample(0.0, _net(rx=1_000, tx=0))})
    after = network.NetworkReading({"eth0": CounterSample(4.0, _net(rx=501_000, tx=250))})
    [entry] = network.to_entries(before, after)
    # rx: (501000 - 1000) bytes * 8 / 4 s = 1,000,000 bit/s; tx: 250 * 8 / 4 = 500 bit/s
    assert entry["rx_bits_per_second"] == 1_000_000.0
    assert entry["tx_bits_per_second"] == 500.0
    assert entry["rx_bytes"] == 501_000
    assert bits_per_second(None) is None


def test_it_reports_null_bandwidth_for_an_interface_that_just_appeared() -> None:
    before = network.NetworkReading({})
    after = network.NetworkReading({"veth1": CounterSample(4.0, _net(rx=10, tx=10))})
    [entry] = network.to_entries(before, after)
    assert entry["rx_bits_per_second"] is None and entry["tx_bits_per_second"] is None


def test_it_computes_cpu_percent_and_iowait_from_two_samples() -> None:
    zero = dict.fromkeys(cpu.MODES, 0.0)
    before = cpu.CpuReading(2, {**zero, "user": 100.0, "idle": 100.0})
    # over 20 s of CPU time: user +5, system +3, iowait +2, idle +10 -> busy 8 / 20 = 40 %
    after = cpu.CpuReading(2, {**zero, "user": 105.0, "system": 3.0, "iowait": 2.0,
                               "idle": 110.0})
    section = cpu.to_section(before, after)
    assert section["percent"] == 40.0
    assert section["iowait_percent"] == 10.0
    assert section["percent_by_mode"]["user"] == 25.0


def test_it_gives_no_cpu_percent_on_first_sample_or_backwards_counters() -> None:
    reading = cpu.CpuReading(1, dict.fromkeys(cpu.MODES, 50.0))
    assert cpu.to_section(None, reading)["percent"] is None
    went_back = cpu.CpuReading(1, {**reading.seconds, "idle": 10.0})
    assert cpu.to_section(reading, went_back)["iowait_percent"] is None


def test_it_computes_disk_throughput_and_busy_ratio() -> None:
    values = {"read_bytes": 0.0, "write_bytes": 0.0, "reads": 0.0, "writes": 0.0,
              "busy_seconds": 1.0}
    before = {"sda": CounterSample(0.0, values)}
    after = {"sda": CounterSample(2.0, {**values, "read_bytes": 4096.0, "busy_seconds": 2.5})}
    [entry] = disk.disk_entries(before, after)
    # 4096 bytes / 2 s = 2048 B/s; busy 1.5 s over 2 s = 0.75
    assert entry["read_bytes_per_second"] == 2048.0
    assert entry["busy_ratio"] == 0.75


def test_it_counts_used_memory_as_what_is_not_available() -> None:
    section = memory.to_section(memory.MemoryReading(total=8_000, available=6_000,
                                                     swap_total=0, swap_used=0))
    # used = 8000 - 6000 = 2000, 2000 / 8000 = 25 %; no swap configured = 0 % used
    assert (section["used_bytes"], section["percent"], section["swap_percent"]) == (2000, 25.0, 0.0)


def _net(rx: int, tx: int) -> dict[str, float]:
    values = dict.fromkeys(network.FIELDS, 0.0)
    values.update(rx_bytes=float(rx), tx_bytes=float(tx))
    return values
