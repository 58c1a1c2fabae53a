#pragma once
// The worker protocol: what a pool worker process reads and writes on its Connection.
//
//   in:  request frame  = TaskRequest  { task id, EncodedCall (function ids + serialized args) }
//   out: response frame = TaskResponse { task id, ok, result bytes | RemoteException }
//        (descriptors inside a result ride on the response frame itself)
//
// A worker runs requests one at a time until it receives the stop request (task id 0), its
// Connection reaches end of file, or it has run `maxtasks` (0 = no limit); then it returns (exit
// code 0). The explicit stop matters with the fork start method: a worker forked later holds a
// copy of every earlier worker's connection, so end of file alone may never come. Nothing here knows about Pool: an
// executor (concurrent.futures' ProcessPoolExecutor) can drive the same workers with its own ids.

#include <nogil/multiprocessing/detail/call.hpp>
#include <nogil/multiprocessing/detail/exception.hpp>
#include <nogil/multiprocessing/connection.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace nogil::multiprocessing::detail {

/// The request id that tells a worker to return.
inline constexpr std::uint64_t stop_task_id = 0;

struct TaskRequest {
    std::uint64_t id = stop_task_id;
    EncodedCall call;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(id, call);
    }
};

struct TaskResponse {
    std::uint64_t id = 0;
    bool ok = false;
    std::string result;     // when ok: the serialized return value (empty for void)
    RemoteException error;  // when !ok

    template <class Archive>
    void serialize(Archive& ar) {
        ar(id, ok, result, error);
    }
};

/// A copyable, optional EncodedCall (a pool initializer): shared, serialized with its descriptors.
class SharedCall {
public:
    SharedCall() = default;
    explicit SharedCall(EncodedCall call) : call_(std::make_shared<EncodedCall>(std::move(call))) {}
    const EncodedCall* get() const noexcept { return call_.get(); }

    template <class Archive>
    void save(Archive& ar) const {
        ar(call_ != nullptr);
        if (call_) ar(*call_);
    }
    template <class Archive>
    void load(Archive& ar) {
        bool has = false;
        ar(has);
        if (!has) return;
        auto call = std::make_shared<EncodedCall>();
        ar(*call);
        call_ = std::move(call);
    }

private:
    std::shared_ptr<EncodedCall> call_;
};

/// A pool worker's body (the target of its Process): runs `initializer`, then tasks.
void pool_worker_main(multiprocessing::Connection conn, std::uint64_t maxtasks, SharedCall initializer);

/// Sends one request on a worker's connection (the call's descriptors go along).
void send_task(multiprocessing::Connection& conn, const TaskRequest& request);

/// Pool.map's unit of work: fn applied to each item of a chunk, in the worker.
template <class Fn, class Arg>
auto map_chunk(FunctionId fn, std::vector<Arg> items) {
    Fn f = resolve_as<std::remove_pointer_t<Fn>>(fn);
    std::vector<std::decay_t<std::invoke_result_t<Fn, Arg&>>> out;
    out.reserve(items.size());
    for (auto& item : items) out.push_back(f(item));
    return out;
}

/// Pool.starmap's unit of work: fn applied to each tuple of a chunk, unpacked.
template <class Fn, class Tuple>
auto starmap_chunk(FunctionId fn, std::vector<Tuple> items) {
    Fn f = resolve_as<std::remove_pointer_t<Fn>>(fn);
    std::vector<std::decay_t<decltype(std::apply(f, items.front()))>> out;
    out.reserve(items.size());
    for (auto& item : items) out.push_back(std::apply(f, item));
    return out;
}

}  // namespace nogil::multiprocessing::detail
