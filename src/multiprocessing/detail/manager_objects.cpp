#include "multiprocessing/detail/manager_objects.hpp"

#include <nogil/errors.hpp>
#include <nogil/queue/queue.hpp>
#include <nogil/threading/barrier.hpp>
#include <nogil/threading/event.hpp>
#include <nogil/threading/lock.hpp>
#include <nogil/threading/rlock.hpp>
#include <nogil/threading/semaphore.hpp>

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace nogil::multiprocessing::detail {

namespace {

using Bytes = std::string;
using Seconds = std::chrono::duration<double>;

[[noreturn]] void no_method(const char* kind, const std::string& name) {
    throw AttributeError(std::string("'") + kind + "' object has no method '" + name + "'");
}

class DictObject final : public Served {
public:
    std::string call(const ManagerRequest& r) override {
        const std::string& m = r.name;
        std::lock_guard lock(mutex_);
        if (m == "getitem") return to_bytes(at(std::get<0>(unpack<Bytes>(r.args)))->second);
        if (m == "setitem") {
            auto [k, v] = unpack<Bytes, Bytes>(r.args);
            set(std::move(k), std::move(v));
            return {};
        }
        if (m == "get") {
            auto it = index_.find(std::get<0>(unpack<Bytes>(r.args)));
            return to_bytes(it == index_.end() ? std::optional<Bytes>() : std::optional<Bytes>(it->second->second));
        }
        if (m == "delitem" || m == "pop") {
            auto it = at(std::get<0>(unpack<Bytes>(r.args)));
            Bytes v = std::move(it->second);
            index_.erase(it->first);
            items_.erase(it);
            return m == "pop" ? to_bytes(v) : std::string();
        }
        if (m == "setdefault") {
            auto [k, v] = unpack<Bytes, Bytes>(r.args);
            auto it = index_.find(k);
            if (it != index_.end()) return to_bytes(it->second->second);
            set(std::move(k), v);
            return to_bytes(v);
        }
        if (m == "popitem") {
            if (items_.empty()) throw KeyError("popitem(): dictionary is empty");
            auto kv = std::move(items_.back());
            items_.pop_back();
            index_.erase(kv.first);
            return to_bytes(kv);
        }
        if (m == "contains") return to_bytes(index_.contains(std::get<0>(unpack<Bytes>(r.args))));
        if (m == "len") return to_bytes(std::uint64_t(items_.size()));
        if (m == "keys" || m == "values") {
            std::vector<Bytes> out;
            for (auto& kv : items_) out.push_back(m == "keys" ? kv.first : kv.second);
            return to_bytes(out);
        }
        if (m == "items") return to_bytes(std::vector<std::pair<Bytes, Bytes>>(items_.begin(), items_.end()));
        if (m == "update") {
            auto [items] = unpack<std::vector<std::pair<Bytes, Bytes>>>(r.args);
            for (auto& [k, v] : items) set(std::move(k), std::move(v));
            return {};
        }
        if (m == "clear") {
            index_.clear();
            items_.clear();
            return {};
        }
        no_method("dict", m);
    }

private:
    using Items = std::list<std::pair<Bytes, Bytes>>;
    Items::iterator at(const Bytes& key) {
        auto it = index_.find(key);
        if (it == index_.end()) throw KeyError("key not in the manager's dict");
        return it->second;
    }
    void set(Bytes key, Bytes value) {
        auto it = index_.find(key);
        if (it != index_.end()) {
            it->second->second = std::move(value);
            return;
        }
        items_.emplace_back(key, std::move(value));
        index_.emplace(std::move(key), std::prev(items_.end()));
    }

    std::mutex mutex_;  // guards both: one method at a time (Python's GIL makes each atomic)
    Items items_;       // insertion order
    std::unordered_map<Bytes, Items::iterator> index_;
};

class ListObject final : public Served {
public:
    std::string call(const ManagerRequest& r) override {
        const std::string& m = r.name;
        std::lock_guard lock(mutex_);
        if (m == "append") {
            items_.push_back(std::get<0>(unpack<Bytes>(r.args)));
            return {};
        }
        if (m == "extend") {
            auto [values] = unpack<std::vector<Bytes>>(r.args);
            for (auto& v : values) items_.push_back(std::move(v));
            return {};
        }
        if (m == "getitem") return to_bytes(items_[position(std::get<0>(unpack<std::int64_t>(r.args)))]);
        if (m == "setitem") {
            auto [i, v] = unpack<std::int64_t, Bytes>(r.args);
            items_[position(i)] = std::move(v);
            return {};
        }
        if (m == "delitem" || m == "pop") {
            auto i = std::get<0>(unpack<std::int64_t>(r.args));
            if (m == "pop" && items_.empty()) throw std::out_of_range("pop from empty list");
            std::size_t p = position(i);
            Bytes v = std::move(items_[p]);
            items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(p));
            return m == "pop" ? to_bytes(v) : std::string();
        }
        if (m == "insert") {  // clamps, as Python's list.insert
            auto [i, v] = unpack<std::int64_t, Bytes>(r.args);
            auto n = static_cast<std::int64_t>(items_.size());
            if (i < 0) i = std::max<std::int64_t>(0, i + n);
            items_.insert(items_.begin() + std::min(i, n), std::move(v));
            return {};
        }
        if (m == "index" || m == "remove") {
            auto v = std::get<0>(unpack<Bytes>(r.args));
            auto it = std::find(items_.begin(), items_.end(), v);
            if (it == items_.end())
                throw std::invalid_argument(m == "index" ? "list.index(x): x not in list" : "list.remove(x): x not in list");
            if (m == "index") return to_bytes(std::uint64_t(it - items_.begin()));
            items_.erase(it);
            return {};
        }
        if (m == "count") {
            auto v = std::get<0>(unpack<Bytes>(r.args));
            return to_bytes(std::uint64_t(std::count(items_.begin(), items_.end(), v)));
        }
        if (m == "contains") {
            auto v = std::get<0>(unpack<Bytes>(r.args));
            return to_bytes(std::find(items_.begin(), items_.end(), v) != items_.end());
        }
        if (m == "reverse") {
            std::reverse(items_.begin(), items_.end());
            return {};
        }
        if (m == "clear") {
            items_.clear();
            return {};
        }
        if (m == "len") return to_bytes(std::uint64_t(items_.size()));
        if (m == "tolist") return to_bytes(items_);
        no_method("list", m);
    }

private:
    std::size_t position(std::int64_t i) const {
        auto n = static_cast<std::int64_t>(items_.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) throw std::out_of_range("list index out of range");
        return static_cast<std::size_t>(i);
    }

    std::mutex mutex_;
    std::vector<Bytes> items_;
};

class QueueObject final : public Served {
public:
    explicit QueueObject(std::int64_t maxsize) : queue_(maxsize) {}
    std::string call(const ManagerRequest& r) override {
        const std::string& m = r.name;
        if (m == "put") {
            auto [v, block, timeout] = unpack<Bytes, bool, double>(r.args);
            if (!block || timeout < 0) {
                queue_.put(std::move(v), block);
            } else {
                queue_.put(std::move(v), Seconds(timeout));
            }
            return {};
        }
        if (m == "get") {
            auto [block, timeout] = unpack<bool, double>(r.args);
            return to_bytes(!block || timeout < 0 ? queue_.get(block) : queue_.get(Seconds(timeout)));
        }
        if (m == "qsize") return to_bytes(std::uint64_t(queue_.qsize()));
        if (m == "empty") return to_bytes(queue_.empty());
        if (m == "full") return to_bytes(queue_.full());
        if (m == "task_done") {
            queue_.task_done();
            return {};
        }
        if (m == "join") {
            queue_.join();
            return {};
        }
        no_method("Queue", m);
    }

private:
    nogil::queue::Queue<Bytes> queue_;
};

class EventObject final : public Served {
public:
    std::string call(const ManagerRequest& r) override {
        const std::string& m = r.name;
        if (m == "set") {
            event_.set();
            return {};
        }
        if (m == "clear") {
            event_.clear();
            return {};
        }
        if (m == "is_set") return to_bytes(event_.is_set());
        if (m == "wait") {
            double timeout = std::get<0>(unpack<double>(r.args));
            return to_bytes(timeout < 0 ? event_.wait() : event_.wait(Seconds(timeout)));
        }
        no_method("Event", m);
    }

private:
    threading::Event event_;
};

template <class L>
class AcquirerObject final : public Served {
public:
    template <class... A>
    explicit AcquirerObject(const char* kind, A... a) : kind_(kind), lock_(a...) {}
    std::string call(const ManagerRequest& r) override {
        if (r.name == "acquire") {
            auto [blocking, timeout] = unpack<bool, double>(r.args);
            if (!blocking) return to_bytes(lock_.acquire(false));
            return to_bytes(timeout < 0 ? lock_.acquire() : lock_.try_lock_for(Seconds(timeout)));
        }
        if (r.name == "release") {
            lock_.release();
            return {};
        }
        no_method(kind_, r.name);
    }

private:
    const char* kind_;
    L lock_;
};

class BarrierObject final : public Served {
public:
    explicit BarrierObject(std::int64_t parties) : barrier_(parties) {}
    std::string call(const ManagerRequest& r) override {
        const std::string& m = r.name;
        if (m == "wait") {
            double timeout = std::get<0>(unpack<double>(r.args));
            return to_bytes(std::uint64_t(timeout < 0 ? barrier_.wait() : barrier_.wait(Seconds(timeout))));
        }
        if (m == "abort") {
            barrier_.abort();
            return {};
        }
        if (m == "reset") {
            barrier_.reset();
            return {};
        }
        if (m == "parties") return to_bytes(std::uint64_t(barrier_.parties()));
        if (m == "n_waiting") return to_bytes(std::uint64_t(barrier_.n_waiting()));
        if (m == "broken") return to_bytes(barrier_.broken());
        no_method("Barrier", m);
    }

private:
    threading::Barrier barrier_;
};

class ValueObject final : public Served {
public:
    explicit ValueObject(Bytes value) : value_(std::move(value)) {}
    std::string call(const ManagerRequest& r) override {
        std::lock_guard lock(mutex_);
        if (r.name == "get") return to_bytes(value_);
        if (r.name == "set") {
            value_ = std::get<0>(unpack<Bytes>(r.args));
            return {};
        }
        no_method("Value", r.name);
    }

private:
    std::mutex mutex_;
    Bytes value_;
};

class NamespaceObject final : public Served {
public:
    std::string call(const ManagerRequest& r) override {
        const std::string& m = r.name;
        std::lock_guard lock(mutex_);
        if (m == "names") {
            std::vector<std::string> out;
            for (auto& kv : attributes_) out.push_back(kv.first);
            return to_bytes(out);
        }
        if (m == "setattr") {
            auto [name, v] = unpack<std::string, Bytes>(r.args);
            attributes_[name] = std::move(v);
            return {};
        }
        auto name = std::get<0>(unpack<std::string>(r.args));
        auto it = attributes_.find(name);
        if (m == "hasattr") return to_bytes(it != attributes_.end());
        if (it == attributes_.end()) throw AttributeError("'Namespace' object has no attribute '" + name + "'");
        if (m == "getattr") return to_bytes(it->second);
        if (m == "delattr") {
            attributes_.erase(it);
            return {};
        }
        no_method("Namespace", m);
    }

private:
    std::mutex mutex_;
    std::map<std::string, Bytes> attributes_;
};

}  // namespace

std::shared_ptr<Served> make_builtin(const std::string& kind, std::string_view args) {
    if (kind == "dict") return std::make_shared<DictObject>();
    if (kind == "list") return std::make_shared<ListObject>();
    if (kind == "Queue") return std::make_shared<QueueObject>(std::get<0>(unpack<std::int64_t>(args)));
    if (kind == "Event") return std::make_shared<EventObject>();
    if (kind == "Lock") return std::make_shared<AcquirerObject<threading::Lock>>("Lock");
    if (kind == "RLock") return std::make_shared<AcquirerObject<threading::RLock>>("RLock");
    if (kind == "Semaphore")
        return std::make_shared<AcquirerObject<threading::Semaphore>>("Semaphore", std::get<0>(unpack<std::int64_t>(args)));
    if (kind == "BoundedSemaphore")
        return std::make_shared<AcquirerObject<threading::BoundedSemaphore>>(
            "BoundedSemaphore", std::get<0>(unpack<std::int64_t>(args)));
    if (kind == "Barrier") return std::make_shared<BarrierObject>(std::get<0>(unpack<std::int64_t>(args)));
    if (kind == "Value") return std::make_shared<ValueObject>(std::get<0>(unpack<Bytes>(args)));
    if (kind == "Namespace") return std::make_shared<NamespaceObject>();
    return nullptr;
}

}  // namespace nogil::multiprocessing::detail
