#pragma once
// multiprocessing.managers: objects that live in a manager's server process and are used from
// other processes through proxies.
//
//   mp::SyncManager manager;                  // or: auto manager = mp::Manager();  (started)
//   manager.start();
//   auto d = manager.dict<std::string, int>();
//   mp::Process p(worker, d);                 // a proxy crosses to a child (or a Pool worker)
//   p.start(); p.join();
//   int n = d.getitem("hits");
//   // ~SyncManager shuts the server down
//
// The server is a process of this program started with the usual start methods; proxies reach
// it over a Unix socket after an HMAC-SHA256 challenge on the authkey (AuthenticationError if
// either side lacks it). Values cross as cereal bytes (docs/api.md, rule 5). docs/multiprocessing.md
// ("Managers") lists what differs from Python and why.
//
// A proxy used after its manager ended throws EOFError (the server closed the connection, during
// the call or before it) or ConnectionRefusedError (nothing listens at the address any more):
// never a hang. What a method throws in the server arrives as its type (KeyError, queue::Empty,
// std::out_of_range, AttributeError, ... and registered ones: exceptions.hpp).
//
// Thread safety: a proxy may be used from any number of threads at once (each thread has its own
// connection to the server, as in Python); copies of a proxy share one reference. A manager's
// start/connect/shutdown may be called from any thread; the built-in objects are as thread-safe
// in the server as their Python counterparts (dict, list, Value and Namespace methods are each
// atomic), and a registered type's methods are called one at a time per object unless its
// registration says concurrent().

#include <nogil/errors.hpp>
#include <nogil/multiprocessing/detail/call.hpp>
#include <nogil/multiprocessing/detail/manager.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace nogil::multiprocessing {

namespace detail {
struct ManagerState;
/// The address proxies use; throws ProcessError unless the manager is started or connected.
ManagerAddress manager_running_address(const ManagerState& state);
/// Adds an exposed method to registered type `index`; ProcessError once started.
void manager_expose(ManagerState& state, std::size_t index, FunctionId invoker, std::string name);
/// Lets registered type `index`'s methods run at once; ProcessError once started.
void manager_set_concurrent(ManagerState& state, std::size_t index);
/// Seconds for the wire; negative = no timeout.
template <class Rep, class Period>
double timeout_seconds(std::chrono::duration<Rep, Period> timeout) {
    double s = std::chrono::duration<double>(timeout).count();
    if (s != s) throw std::invalid_argument("timeout is NaN");
    return s < 0 ? 0.0 : s;
}
template <class... Ts>
std::string pack(const Ts&... values) {
    return to_bytes(std::tuple<Ts...>(values...));
}
}  // namespace detail

// ---- proxies of the built-in kinds ----------------------------------------------------------

/// A dict in the manager (Python's DictProxy). Keys compare by their serialized bytes, so K must
/// serialize deterministically (arithmetic types, strings, tuples and sequences of them do);
/// items keep insertion order, as Python's dict.
/// Thread safety: any thread, any number at once; each call is one atomic request to the server.
template <class K, class V>
class DictProxy : public detail::ProxyBase {
public:
    using ProxyBase::ProxyBase;
    /// d[key]; KeyError if absent.
    V getitem(const K& key) const { return value(call<std::string>("getitem", detail::pack(bytes(key)))); }
    /// d[key] = value.
    void setitem(const K& key, const V& v) const { call("setitem", detail::pack(bytes(key), detail::to_bytes(v))); }
    /// del d[key]; KeyError if absent.
    void delitem(const K& key) const { call("delitem", detail::pack(bytes(key))); }
    /// d.get(key): nullopt if absent.
    std::optional<V> get(const K& key) const {
        auto v = call<std::optional<std::string>>("get", detail::pack(bytes(key)));
        if (!v) return std::nullopt;
        return value(*v);
    }
    V get(const K& key, const V& fallback) const { return get(key).value_or(fallback); }
    /// d.pop(key); KeyError if absent.
    V pop(const K& key) const { return value(call<std::string>("pop", detail::pack(bytes(key)))); }
    /// d.setdefault(key, value): the value now under key.
    V setdefault(const K& key, const V& v) const {
        return value(call<std::string>("setdefault", detail::pack(bytes(key), detail::to_bytes(v))));
    }
    /// d.popitem(): the last inserted item; KeyError if empty.
    std::pair<K, V> popitem() const { return item(call<std::pair<std::string, std::string>>("popitem")); }
    /// key in d.
    bool contains(const K& key) const { return call<bool>("contains", detail::pack(bytes(key))); }
    /// len(d).
    std::size_t len() const { return call<std::uint64_t>("len"); }
    std::vector<K> keys() const { return each<K>(call<std::vector<std::string>>("keys")); }
    std::vector<V> values() const { return each<V>(call<std::vector<std::string>>("values")); }
    /// d.items() (also Python's d.copy(), as a sequence), in insertion order.
    std::vector<std::pair<K, V>> items() const {
        std::vector<std::pair<K, V>> out;
        for (auto& kv : call<std::vector<std::pair<std::string, std::string>>>("items")) out.push_back(item(kv));
        return out;
    }
    /// d.update(items), in order.
    void update(const std::vector<std::pair<K, V>>& items) const {
        std::vector<std::pair<std::string, std::string>> raw;
        for (auto& [k, v] : items) raw.emplace_back(bytes(k), detail::to_bytes(v));
        call("update", detail::pack(raw));
    }
    void clear() const { call("clear"); }

private:
    static std::string bytes(const K& key) { return detail::to_bytes(key); }
    static V value(const std::string& b) { return detail::from_bytes<V>(b); }
    static std::pair<K, V> item(const std::pair<std::string, std::string>& kv) {
        return {detail::from_bytes<K>(kv.first), detail::from_bytes<V>(kv.second)};
    }
    template <class T>
    static std::vector<T> each(const std::vector<std::string>& raw) {
        std::vector<T> out;
        out.reserve(raw.size());
        for (auto& b : raw) out.push_back(detail::from_bytes<T>(b));
        return out;
    }
};

/// A list in the manager (Python's ListProxy). Indexes may be negative (from the end); an index
/// out of range is std::out_of_range (Python's IndexError); index()/remove() of a value not in
/// the list is std::invalid_argument (ValueError). Items compare by their serialized bytes.
/// Thread safety: any thread, any number at once; each call is one atomic request to the server.
template <class T>
class ListProxy : public detail::ProxyBase {
public:
    using ProxyBase::ProxyBase;
    void append(const T& v) const { call("append", detail::pack(detail::to_bytes(v))); }
    void extend(const std::vector<T>& vs) const { call("extend", detail::pack(raw(vs))); }
    T getitem(std::ptrdiff_t i) const { return detail::from_bytes<T>(call<std::string>("getitem", detail::pack(std::int64_t(i)))); }
    void setitem(std::ptrdiff_t i, const T& v) const { call("setitem", detail::pack(std::int64_t(i), detail::to_bytes(v))); }
    void delitem(std::ptrdiff_t i) const { call("delitem", detail::pack(std::int64_t(i))); }
    void insert(std::ptrdiff_t i, const T& v) const { call("insert", detail::pack(std::int64_t(i), detail::to_bytes(v))); }
    /// l.pop(i) (default: the last item).
    T pop(std::ptrdiff_t i = -1) const { return detail::from_bytes<T>(call<std::string>("pop", detail::pack(std::int64_t(i)))); }
    std::size_t index(const T& v) const { return call<std::uint64_t>("index", detail::pack(detail::to_bytes(v))); }
    std::size_t count(const T& v) const { return call<std::uint64_t>("count", detail::pack(detail::to_bytes(v))); }
    bool contains(const T& v) const { return call<bool>("contains", detail::pack(detail::to_bytes(v))); }
    void remove(const T& v) const { call("remove", detail::pack(detail::to_bytes(v))); }
    void reverse() const { call("reverse"); }
    void clear() const { call("clear"); }
    std::size_t len() const { return call<std::uint64_t>("len"); }
    /// A copy of the whole list (Python's list(l) or l[:]).
    std::vector<T> tolist() const {
        std::vector<T> out;
        for (auto& b : call<std::vector<std::string>>("tolist")) out.push_back(detail::from_bytes<T>(b));
        return out;
    }

private:
    static std::vector<std::string> raw(const std::vector<T>& vs) {
        std::vector<std::string> out;
        for (auto& v : vs) out.push_back(detail::to_bytes(v));
        return out;
    }
};

/// A queue.Queue in the manager (Python's manager.Queue() / JoinableQueue()): the same API as
/// nogil::queue::Queue. Full and Empty arrive as queue::Full and queue::Empty.
/// Thread safety: any thread, any number at once; each call is one atomic request to the server.
template <class T>
class QueueProxy : public detail::ProxyBase {
public:
    using ProxyBase::ProxyBase;
    void put(const T& v) const { put_impl(v, true, -1); }
    void put(const T& v, bool block) const { put_impl(v, block, -1); }
    template <class Rep, class Period>
    void put(const T& v, std::chrono::duration<Rep, Period> timeout) const {
        put_impl(v, true, detail::timeout_seconds(timeout));
    }
    void put_nowait(const T& v) const { put_impl(v, false, -1); }
    T get() const { return get_impl(true, -1); }
    T get(bool block) const { return get_impl(block, -1); }
    template <class Rep, class Period>
    T get(std::chrono::duration<Rep, Period> timeout) const {
        return get_impl(true, detail::timeout_seconds(timeout));
    }
    T get_nowait() const { return get_impl(false, -1); }
    std::size_t qsize() const { return call<std::uint64_t>("qsize"); }
    bool empty() const { return call<bool>("empty"); }
    bool full() const { return call<bool>("full"); }
    void task_done() const { call("task_done"); }
    /// Blocks until every item put has been marked task_done().
    void join() const { call("join"); }

private:
    void put_impl(const T& v, bool block, double timeout) const { call("put", detail::pack(detail::to_bytes(v), block, timeout)); }
    T get_impl(bool block, double timeout) const {
        return detail::from_bytes<T>(call<std::string>("get", detail::pack(block, timeout)));
    }
};

/// A threading.Event in the manager (Python's EventProxy).
/// Thread safety: any thread, any number at once; each call is one atomic request to the server.
class EventProxy : public detail::ProxyBase {
public:
    using ProxyBase::ProxyBase;
    void set() const { call("set"); }
    void clear() const { call("clear"); }
    bool is_set() const { return call<bool>("is_set"); }
    bool wait() const { return call<bool>("wait", detail::pack(-1.0)); }
    template <class Rep, class Period>
    bool wait(std::chrono::duration<Rep, Period> timeout) const {
        return call<bool>("wait", detail::pack(detail::timeout_seconds(timeout)));
    }
};

/// A threading.Lock, RLock, Semaphore or BoundedSemaphore in the manager (Python's AcquirerProxy).
/// Also BasicLockable/TimedLockable, for std::lock_guard and std::unique_lock. An RLock's owner is
/// the calling thread (each thread has its own connection, served by its own server thread).
/// Thread safety: any thread, any number at once; each call is one atomic request to the server.
class AcquirerProxy : public detail::ProxyBase {
public:
    using ProxyBase::ProxyBase;
    bool acquire(bool blocking = true) const { return call<bool>("acquire", detail::pack(blocking, -1.0)); }
    template <class Rep, class Period>
    bool acquire(std::chrono::duration<Rep, Period> timeout) const {
        return call<bool>("acquire", detail::pack(true, detail::timeout_seconds(timeout)));
    }
    /// Throws what the server's release throws (std::runtime_error for an unlocked Lock or an
    /// RLock this thread does not own, ValueError/std::invalid_argument past a BoundedSemaphore's value).
    void release() const { call("release"); }
    void lock() const { acquire(); }
    bool try_lock() const { return acquire(false); }
    template <class Rep, class Period>
    bool try_lock_for(std::chrono::duration<Rep, Period> timeout) const {
        return acquire(timeout);
    }
    void unlock() const { release(); }
};

/// A threading.Barrier in the manager (Python's BarrierProxy).
/// Thread safety: any thread, any number at once; each call is one atomic request to the server.
class BarrierProxy : public detail::ProxyBase {
public:
    using ProxyBase::ProxyBase;
    std::size_t wait() const { return call<std::uint64_t>("wait", detail::pack(-1.0)); }
    template <class Rep, class Period>
    std::size_t wait(std::chrono::duration<Rep, Period> timeout) const {
        return call<std::uint64_t>("wait", detail::pack(detail::timeout_seconds(timeout)));
    }
    void abort() const { call("abort"); }
    void reset() const { call("reset"); }
    std::size_t parties() const { return call<std::uint64_t>("parties"); }
    std::size_t n_waiting() const { return call<std::uint64_t>("n_waiting"); }
    bool broken() const { return call<bool>("broken"); }
};

/// A value in the manager (Python's manager.Value(typecode, value): a ValueProxy, no lock).
/// Thread safety: any thread, any number at once; each call is one atomic request to the server.
template <class T>
class ValueProxy : public detail::ProxyBase {
public:
    using ProxyBase::ProxyBase;
    T get() const { return detail::from_bytes<T>(call<std::string>("get")); }
    void set(const T& v) const { call("set", detail::pack(detail::to_bytes(v))); }
};

/// A Namespace in the manager: named attributes of any serializable types (Python's
/// NamespaceProxy; getattr(ns, name) is getattr<T>(name)). Reading a name never set throws
/// AttributeError; reading it as another type than it was set with is an error of decoding
/// (std::runtime_error), or a wrong value where the two types' bytes agree in size.
/// Thread safety: any thread, any number at once; each call is one atomic request to the server.
class NamespaceProxy : public detail::ProxyBase {
public:
    using ProxyBase::ProxyBase;
    template <class T>
    T getattr(const std::string& name) const {
        return detail::from_bytes<T>(call<std::string>("getattr", detail::pack(name)));
    }
    template <class T>
    void setattr(const std::string& name, const T& v) const {
        call("setattr", detail::pack(name, detail::to_bytes(v)));
    }
    void delattr(const std::string& name) const { call("delattr", detail::pack(name)); }
    bool hasattr(const std::string& name) const { return call<bool>("hasattr", detail::pack(name)); }
    /// The names set, sorted (Python's vars(ns) keys, as repr shows them).
    std::vector<std::string> names() const { return call<std::vector<std::string>>("names"); }
};

/// A proxy of a registered user type T: call<&T::method>(args...) runs the method in the server.
/// Thread safety: any thread, any number at once; each call is one atomic request to the server.
template <class T>
class Proxy : public detail::ProxyBase {
public:
    using ProxyBase::ProxyBase;
    /// Calls an exposed method. The arguments convert to its parameters here; the result comes
    /// back by value. A method not exposed by the registration is refused by the server
    /// (AttributeError), as Python's "method ... is not in exposed".
    template <auto Method, class... Args>
    auto call(const Args&... args) const {
        using traits = detail::method_traits<decltype(Method)>;
        static_assert(std::is_base_of_v<typename traits::object, T>, "Proxy<T>::call: a method of another class");
        static_assert(sizeof...(Args) == std::tuple_size_v<typename traits::args>,
                      "Proxy<T>::call: wrong number of arguments");
        using result = typename traits::result;
        typename traits::args converted(args...);
        std::string in = std::apply([](const auto&... a) { return nogil::detail::serial::dumps(a...).bytes; }, converted);
        std::string out = checked().call(detail::identify(&detail::invoke_method<Method>), std::move(in));
        if constexpr (!std::is_void_v<result>) return detail::from_bytes<result>(out);
    }
};

// ---- managers ---------------------------------------------------------------------------------

/// BaseManager's keyword arguments.
struct ManagerOptions {
    /// The server's Unix socket path. "" = a new socket in a private temporary directory
    /// (start()); connect() needs the address of a running manager.
    std::string address{};
    /// The secret both sides prove they hold. "" = 32 random bytes (start()).
    std::string authkey{};
    /// "fork", "spawn", "forkserver", or "" for the default (context.hpp).
    std::string start_method{};
    /// How long shutdown() waits for the server to end after asking, and again after terminate()
    /// (Python 3.13's shutdown_timeout).
    std::chrono::duration<double> shutdown_timeout{1.0};
};

class BaseManager;

/// What register_type returns: expose() the methods proxies may call, then create() objects.
/// Thread safety: as its BaseManager (it shares the manager's state).
template <class T, class Factory>
class TypeRegistration {
public:
    /// Lets proxies call Method (under `name`, for messages). Before start(); returns *this.
    template <auto Method>
    TypeRegistration& expose(std::string name) {
        static_assert(std::is_base_of_v<typename detail::method_traits<decltype(Method)>::object, T>,
                      "TypeRegistration::expose: a method of another class");
        detail::manager_expose(*state_, index_, detail::identify(&detail::invoke_method<Method>), std::move(name));
        return *this;
    }

    /// By default the server calls one method of an object at a time (the role Python's GIL
    /// plays for a plain object). A thread-safe type whose methods block (a queue's get waiting
    /// for another client's put) must opt out, or the blocked call would hold off the one it
    /// waits for. Before start(); returns *this.
    TypeRegistration& concurrent() {
        detail::manager_set_concurrent(*state_, index_);
        return *this;
    }

    /// Creates an object in the server (Python's manager.<typeid>(args...)) and returns its proxy;
    /// the arguments convert to the factory's parameters here. Throws ProcessError unless the
    /// manager is started or connected.
    template <class... Args>
    Proxy<T> create(const Args&... args) const {
        std::string in;
        if constexpr (std::is_void_v<Factory>) {
            static_assert(sizeof...(Args) == 0, "TypeRegistration::create: this type has no factory: no arguments");
        } else {
            in = [&]<class R, class... A>(R (*)(A...)) {
                static_assert(sizeof...(A) == sizeof...(Args), "TypeRegistration::create: wrong number of arguments");
                std::tuple<std::decay_t<A>...> converted(args...);
                return std::apply([](const auto&... a) { return nogil::detail::serial::dumps(a...).bytes; }, converted);
            }(Factory{});
        }
        return Proxy<T>(detail::manager_create(detail::manager_running_address(*state_), name_, std::move(in)));
    }

private:
    friend class BaseManager;
    TypeRegistration(std::shared_ptr<detail::ManagerState> state, std::size_t index, std::string name)
        : state_(std::move(state)), index_(index), name_(std::move(name)) {}

    std::shared_ptr<detail::ManagerState> state_;
    std::size_t index_;
    std::string name_;
};

/// Python's BaseManager: register_type() user types, then start() a server (or connect() to one).
/// The destructor shuts a started server down (Python's `with manager:`); a copy of the manager in
/// a forked child never does (only the process that started the server stops it).
/// Thread safety: every member may be called from any thread at once (one internal mutex).
class BaseManager {
public:
    explicit BaseManager(ManagerOptions options = {});
    ~BaseManager();
    BaseManager(BaseManager&&) noexcept;
    BaseManager& operator=(BaseManager&&) noexcept;

    /// Python's register(typeid, callable): objects of T made by `factory` (a plain function
    /// returning T or std::shared_ptr<T> — the latter may hand out one shared object, e.g. a
    /// static), or default-constructed when there is no factory. (`register` is a C++ keyword.)
    /// Before start() or connect(); a client that connect()s registers the same types with the
    /// same functions. Throws ProcessError once started.
    template <class T, class F>
    TypeRegistration<T, detail::function_pointer_t<F>> register_type(std::string type_id, F factory) {
        static_assert(detail::plain_callable<F>, "register_type: the factory must be a plain function or captureless lambda");
        using Fn = detail::function_pointer_t<F>;
        Fn fn = +factory;
        std::size_t index = add_type(type_id, invoker_for<T, Fn>(), detail::identify(fn));
        return {state_, index, std::move(type_id)};
    }
    template <class T>
    TypeRegistration<T, void> register_type(std::string type_id) {
        std::size_t index = add_type(type_id, detail::identify(&detail::invoke_default_factory<T>), {});
        return {state_, index, std::move(type_id)};
    }

    /// Starts the server process. Throws ProcessError("Already started server") or
    /// ("Manager has shut down"), OSError if the address cannot be bound.
    void start();
    /// Connects to a running manager at options.address (Python's connect): checks the authkey
    /// (AuthenticationError) and that it answers. A connected manager does not own the server.
    void connect();
    /// Stops a started server (ask, wait shutdown_timeout, terminate, wait, kill: Python's
    /// _finalize_manager) and
    /// removes its socket. Idempotent; does nothing for a manager that only connected.
    void shutdown();

    /// The server's socket path.
    std::string address() const;
    std::string authkey() const;
    /// The server process's pid (a started manager), else nullopt.
    std::optional<int> pid() const;
    /// The server process's exit code once it ended (Python's manager._process.exitcode).
    std::optional<int> exitcode() const;
    /// How many objects the server holds (Python's _number_of_objects; for tests).
    std::size_t number_of_objects() const;

protected:
    template <class P>
    P create_builtin(const char* kind, std::string args = {}) const {
        return P(detail::manager_create(detail::manager_running_address(*state_), kind, std::move(args)));
    }

private:
    template <class T, class Fn>
    static detail::FunctionId invoker_for() {
        return []<class R, class... A>(R (*)(A...)) {
            return detail::identify(&detail::invoke_factory<T, Fn, std::decay_t<A>...>);
        }(Fn{});
    }
    std::size_t add_type(std::string type_id, detail::FunctionId invoker, detail::FunctionId factory);

    std::shared_ptr<detail::ManagerState> state_;
};

/// Python's SyncManager: a BaseManager serving the built-in kinds.
class SyncManager : public BaseManager {
public:
    using BaseManager::BaseManager;

    template <class K, class V>
    DictProxy<K, V> dict() const { return create_builtin<DictProxy<K, V>>("dict"); }
    template <class K, class V>
    DictProxy<K, V> dict(const std::vector<std::pair<K, V>>& items) const {
        auto d = dict<K, V>();
        d.update(items);
        return d;
    }
    template <class T>
    ListProxy<T> list(const std::vector<T>& items = {}) const {
        auto l = create_builtin<ListProxy<T>>("list");
        if (!items.empty()) l.extend(items);
        return l;
    }
    /// queue.Queue(maxsize) (also Python's JoinableQueue: task_done and join are there).
    template <class T>
    QueueProxy<T> Queue(std::ptrdiff_t maxsize = 0) const {
        return create_builtin<QueueProxy<T>>("Queue", detail::pack(std::int64_t(maxsize)));
    }
    template <class T>
    QueueProxy<T> JoinableQueue(std::ptrdiff_t maxsize = 0) const { return Queue<T>(maxsize); }
    EventProxy Event() const { return create_builtin<EventProxy>("Event"); }
    AcquirerProxy Lock() const { return create_builtin<AcquirerProxy>("Lock"); }
    AcquirerProxy RLock() const { return create_builtin<AcquirerProxy>("RLock"); }
    AcquirerProxy Semaphore(long long value = 1) const {
        return create_builtin<AcquirerProxy>("Semaphore", detail::pack(std::int64_t(value)));
    }
    AcquirerProxy BoundedSemaphore(long long value = 1) const {
        return create_builtin<AcquirerProxy>("BoundedSemaphore", detail::pack(std::int64_t(value)));
    }
    BarrierProxy Barrier(long long parties) const {
        return create_builtin<BarrierProxy>("Barrier", detail::pack(std::int64_t(parties)));
    }
    /// manager.Value(typecode, value): the type is T.
    template <class T>
    ValueProxy<T> Value(const T& v) const {
        return create_builtin<ValueProxy<T>>("Value", detail::pack(detail::to_bytes(v)));
    }
    NamespaceProxy Namespace() const { return create_builtin<NamespaceProxy>("Namespace"); }
};

/// multiprocessing.Manager(): a started SyncManager.
SyncManager Manager(ManagerOptions options = {});

}  // namespace nogil::multiprocessing
