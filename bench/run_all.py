"""`make bench`: every benchmark, one line each (results go to docs/benchmarks.md by hand)."""

from bench import pure_core, sink_throughput, stream_stages

if __name__ == "__main__":
    r = pure_core.run(customers=3000, batch=500)
    print(f"pure core: stage 1 {r['stage1_eps']:,.0f} ev/s, stage 2 {r['stage2_eps']:,.0f} ev/s, both {r['both_eps']:,.0f} ev/s")
    r = stream_stages.run(customers=3000, partitions=6, batch_size=500)
    print(f"stages 1+2 on a real broker: {r['stages_eps']:,.0f} ev/s ({r['events']} events); SDK publish {r['publish_eps']:,.0f} ev/s")
    r = sink_throughput.run(customers=2000, partitions=6, max_rows=5000)
    print(f"sink into embedded ClickHouse: {r['rows_per_s']:,.0f} rows/s ({r['rows']} touchpoint rows)")
