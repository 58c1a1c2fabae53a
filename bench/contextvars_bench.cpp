// contextvars benchmarks, with CPython's contextvars measured in the same run: the program first
// runs bench/python/contextvars_anchor.py (the same operations) and reports each figure next to
// the anchor's as counters ("python_ns", "x_faster"). NOGIL_BENCH_NO_ANCHOR=1 skips Python.
//   cmake --preset release -DNOGIL_BUILD_BENCH=ON && cmake --build --preset release --target nogil_contextvars_bench
//   build/release/bench/nogil_contextvars_bench
#include <nogil/contextvars.hpp>

#include "anchor_json.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace cv = nogil::contextvars;

namespace {

const std::map<std::string, double>& anchor() {
    static const auto figures = std::getenv("NOGIL_BENCH_NO_ANCHOR")
                                    ? std::map<std::string, double>{}
                                    : nogil_bench::run_anchor("cd " NOGIL_SOURCE_DIR "/bench/python && /usr/bin/python3 contextvars_anchor.py --json 2>/dev/null");
    return figures;
}

/// Reports Python's seconds per call for `key` and how many times faster we are; the state's
/// own timing is per iteration (one call).
void compare(benchmark::State& state, const char* key) {
    auto it = anchor().find(key);
    if (it == anchor().end()) return;
    state.counters["python_ns"] = it->second * 1e9;
    state.counters["x_faster"] =
        benchmark::Counter(it->second * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Each case runs in a fresh Context, like the anchor (Context().run(...)).
template <class F>
void in_fresh_context(F f) {
    cv::Context().run(f);
}

void BM_ContextVarGet(benchmark::State& state) {
    in_fresh_context([&] {
        cv::ContextVar<int> var("var");
        var.set(1);
        for (auto _ : state) benchmark::DoNotOptimize(var.get());
    });
    compare(state, "get");
}
BENCHMARK(BM_ContextVarGet);

void BM_ContextVarGetDefault(benchmark::State& state) {
    in_fresh_context([&] {
        cv::ContextVar<int> unset("unset", 0);
        for (auto _ : state) benchmark::DoNotOptimize(unset.get());
    });
    compare(state, "get_default");
}
BENCHMARK(BM_ContextVarGetDefault);

void BM_ContextVarGet20Vars(benchmark::State& state) {
    in_fresh_context([&] {
        cv::ContextVar<int> var("var");
        var.set(1);
        std::vector<cv::ContextVar<int>> others;
        for (int i = 0; i < 19; ++i) others.emplace_back("other" + std::to_string(i)).set(i);
        for (auto _ : state) benchmark::DoNotOptimize(var.get());
    });
    compare(state, "get_20_vars");
}
BENCHMARK(BM_ContextVarGet20Vars);

void BM_ContextVarSetReset(benchmark::State& state) {
    in_fresh_context([&] {
        cv::ContextVar<int> var("var");
        var.set(1);
        for (auto _ : state) var.reset(var.set(2));
    });
    compare(state, "set_reset");
}
BENCHMARK(BM_ContextVarSetReset);

void BM_CopyContext(benchmark::State& state) {
    in_fresh_context([&] {
        cv::ContextVar<int> var("var");
        var.set(1);
        for (auto _ : state) benchmark::DoNotOptimize(cv::copy_context());
    });
    compare(state, "copy_context");
}
BENCHMARK(BM_CopyContext);

void BM_ContextRun(benchmark::State& state) {
    cv::Context ctx = cv::copy_context();
    for (auto _ : state) ctx.run([] {});
    compare(state, "run");
}
BENCHMARK(BM_ContextRun);

}  // namespace

BENCHMARK_MAIN();
