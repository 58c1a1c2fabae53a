#pragma once
// How values cross a process boundary: cereal's binary archive, plus two small additions.
//  1. Trivially copyable aggregates (plain structs of numbers) travel as their bytes, as docs/api.md
//     rule 5 promises; every other user type provides cereal's serialize(Archive&).
//  2. Objects that own a file descriptor (Connection, Queue, Lock's shared memory) save an index
//     into a side list of descriptors that travels next to the bytes (SCM_RIGHTS), and are
//     rebuilt from the received descriptor. Types that cannot be default-constructed (a Lock's
//     default constructor makes a new lock) load through a static `nogil_load(InputArchive&)`.
// Machinery: users never include this; they only write serialize().

#include <nogil/multiprocessing/detail/fd.hpp>

#include <cereal/archives/binary.hpp>
#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/complex.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/memory.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include <array>
#include <cstdint>
#include <sstream>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace nogil::detail::serial {

using OutputArchive = cereal::BinaryOutputArchive;
using InputArchive = cereal::BinaryInputArchive;

template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

/// A plain struct of trivially copyable members that says nothing about serialization: its bytes
/// are its value in another process of the same binary.
template <class T>
concept raw_bytes_value =
    std::is_class_v<T> && std::is_aggregate_v<T> && std::is_trivially_copyable_v<T> && !is_std_array<T>::value &&
    !cereal::traits::has_member_serialize<T, OutputArchive>::value &&
    !cereal::traits::has_member_save<T, OutputArchive>::value &&
    !cereal::traits::has_non_member_serialize<T, OutputArchive>::value;

/// True for types rebuilt by a static `T::nogil_load(InputArchive&)` instead of default-construct + load.
template <class T>
concept loads_by_factory = requires(InputArchive& ar) {
    { T::nogil_load(ar) } -> std::same_as<T>;
};

/// What may cross a process boundary (docs/api.md, rule 5).
template <class T>
concept Serializable = std::is_void_v<T> || (cereal::traits::is_output_serializable<T, OutputArchive>::value &&
                                             (cereal::traits::is_input_serializable<T, InputArchive>::value ||
                                              loads_by_factory<T>));

/// Serialized bytes plus the descriptors that travel with them (owned: sent, then closed).
struct Payload {
    std::string bytes;
    std::vector<UniqueFd> fds;
};

/// While saving: records a duplicate of `fd` to travel with the payload; returns its index.
/// Throws std::logic_error outside a nogil serialization (plain cereal cannot carry descriptors).
std::uint32_t export_fd(int fd);
/// While loading: takes the descriptor received at `index` (each index at most once).
UniqueFd import_fd(std::uint32_t index);

/// Installs `fds` as the export/import side list of the calling thread for its lifetime.
class FdScope {
public:
    explicit FdScope(std::vector<UniqueFd>* fds) noexcept;
    ~FdScope();
    FdScope(const FdScope&) = delete;
    FdScope& operator=(const FdScope&) = delete;

private:
    std::vector<UniqueFd>* previous_;
};

/// A read-only streambuf over bytes we do not own (no copy of the payload).
class MemoryBuf : public std::streambuf {
public:
    MemoryBuf(const char* data, std::size_t size) {
        auto* p = const_cast<char*>(data);  // streambuf's API is non-const; we never write through it
        setg(p, p, p + size);
    }
    std::size_t remaining() { return static_cast<std::size_t>(egptr() - gptr()); }
};

/// Loads one value: through its factory when it has one, else default-construct and load.
template <class T>
T load_value(InputArchive& ar) {
    if constexpr (loads_by_factory<T>) {
        return T::nogil_load(ar);
    } else {
        T value{};
        ar(value);
        return value;
    }
}

/// Serializes `values...` in order into one payload.
template <class... Ts>
Payload dumps(const Ts&... values) {
    Payload out;
    FdScope scope(&out.fds);
    std::ostringstream stream(std::ios::binary);
    {
        OutputArchive ar(stream);
        (ar(values), ...);
    }
    out.bytes = std::move(stream).str();
    return out;
}

[[noreturn]] void throw_trailing_bytes(std::size_t count);

/// Reads values of types Ts... written by dumps<Ts...>; every byte must be consumed (a payload
/// longer than its values is corrupt, not "good enough"). Takes the descriptors it uses.
template <class... Ts>
std::tuple<Ts...> loads(std::string_view bytes, std::vector<UniqueFd>& fds) {
    FdScope scope(&fds);
    MemoryBuf buf(bytes.data(), bytes.size());
    std::istream stream(&buf);
    InputArchive ar(stream);
    // Braced initialization evaluates left to right: values load in the order they were saved.
    std::tuple<Ts...> values{load_value<Ts>(ar)...};
    if (buf.remaining() != 0) throw_trailing_bytes(buf.remaining());
    return values;
}

/// loads() of exactly one value.
template <class T>
T load_one(std::string_view bytes, std::vector<UniqueFd>& fds) {
    return std::get<0>(loads<T>(bytes, fds));
}

}  // namespace nogil::detail::serial

namespace cereal {
// Found by argument-dependent lookup (the archive's namespace) when cereal looks for a save/load.
template <class Archive, nogil::detail::serial::raw_bytes_value T>
void CEREAL_SAVE_FUNCTION_NAME(Archive& ar, const T& value) {
    ar(cereal::binary_data(&value, sizeof(T)));
}
template <class Archive, nogil::detail::serial::raw_bytes_value T>
void CEREAL_LOAD_FUNCTION_NAME(Archive& ar, T& value) {
    ar(cereal::binary_data(&value, sizeof(T)));
}
}  // namespace cereal
