// multiprocessing.shared_memory.ShareableList. Guarantees are in shared_memory.hpp.
//
// Layout of the block (every field read and written with memcpy: no alignment assumed):
//   Header  { magic "nogilSL1", item count }
//   Slot[count] { kind, length (str/bytes), data offset from the block start, capacity }
//   data: each slot's bytes at its offset
// Slots are fixed at creation; set() rewrites one slot's data, then its kind and length.
#include <nogil/multiprocessing/shared_memory.hpp>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace nogil::multiprocessing::shared_memory {

namespace {

constexpr char magic[8] = {'n', 'o', 'g', 'i', 'l', 'S', 'L', '1'};

enum Kind : std::uint32_t { none_kind, int_kind, float_kind, bool_kind, str_kind, bytes_kind };

struct Header {
    char magic[8];
    std::uint64_t count;
};
struct Slot {
    std::uint32_t kind;
    std::uint32_t length;  // str and bytes: the stored length
    std::uint64_t offset;
    std::uint64_t capacity;
};

constexpr std::size_t slot_at(std::size_t i) { return sizeof(Header) + i * sizeof(Slot); }

std::size_t round_up8(std::size_t n) { return std::max<std::size_t>(8, (n + 7) / 8 * 8); }

// The bytes an item needs in its slot.
std::size_t encoded_size(const ShareableList::Item& item) {
    if (auto* s = std::get_if<std::string>(&item)) return s->size();
    if (auto* b = std::get_if<Bytes>(&item)) return b->size();
    return 8;
}

// The capacity a new slot gets for `item` (Python's allocation).
std::size_t initial_capacity(const ShareableList::Item& item) {
    if (std::holds_alternative<std::string>(item) || std::holds_alternative<Bytes>(item))
        return round_up8(encoded_size(item));
    return 8;
}

Slot read_slot(std::span<std::byte> buf, std::size_t i) {
    Slot slot;
    std::memcpy(&slot, buf.data() + slot_at(i), sizeof slot);
    return slot;
}

void write_item(std::span<std::byte> buf, std::size_t i, Slot slot, const ShareableList::Item& item) {
    std::byte* data = buf.data() + slot.offset;
    slot.length = 0;
    std::visit(
        [&](const auto& v) {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, std::monostate>) {
                slot.kind = none_kind;
            } else if constexpr (std::is_same_v<V, std::int64_t>) {
                slot.kind = int_kind;
                std::memcpy(data, &v, sizeof v);
            } else if constexpr (std::is_same_v<V, double>) {
                slot.kind = float_kind;
                std::memcpy(data, &v, sizeof v);
            } else if constexpr (std::is_same_v<V, bool>) {
                slot.kind = bool_kind;
                std::uint8_t b = v ? 1 : 0;
                std::memcpy(data, &b, 1);
            } else {
                slot.kind = std::is_same_v<V, std::string> ? str_kind : bytes_kind;
                slot.length = static_cast<std::uint32_t>(v.size());
                if (!v.empty()) std::memcpy(data, v.data(), v.size());
            }
        },
        item);
    std::memcpy(buf.data() + slot_at(i), &slot, sizeof slot);
}

}  // namespace

ShareableList::ShareableList(const std::vector<Item>& sequence, std::optional<std::string> name)
    : ShareableList([&] {
          std::size_t size = slot_at(sequence.size());
          for (const Item& item : sequence) {
              if (encoded_size(item) > UINT32_MAX)
                  throw std::invalid_argument("ShareableList: a str or bytes item is longer than 4 GiB");
              size += initial_capacity(item);
          }
          SharedMemory shm(std::move(name), true, size);
          std::span<std::byte> buf = shm.buf();
          Header header{};
          std::memcpy(header.magic, magic, sizeof magic);
          header.count = sequence.size();
          std::memcpy(buf.data(), &header, sizeof header);
          std::size_t offset = slot_at(sequence.size());
          for (std::size_t i = 0; i < sequence.size(); ++i) {
              Slot slot{none_kind, 0, offset, initial_capacity(sequence[i])};
              write_item(buf, i, slot, sequence[i]);
              offset += slot.capacity;
          }
          return shm;
      }()) {}

ShareableList::ShareableList(SharedMemory shm) : shm_(std::move(shm)) {
    std::span<std::byte> buf = shm_.buf();
    auto not_a_list = [&] {
        return std::invalid_argument("ShareableList: shared memory '" + shm_.name() + "' does not hold a ShareableList");
    };
    Header header;
    if (buf.size() < sizeof header) throw not_a_list();
    std::memcpy(&header, buf.data(), sizeof header);
    if (std::memcmp(header.magic, magic, sizeof magic) != 0) throw not_a_list();
    if (header.count > (buf.size() - sizeof(Header)) / sizeof(Slot)) throw not_a_list();
    count_ = static_cast<std::size_t>(header.count);
    for (std::size_t i = 0; i < count_; ++i) {  // a corrupt slot must not send us outside the block
        Slot slot = read_slot(buf, i);
        if (slot.offset > buf.size() || slot.capacity > buf.size() - slot.offset || slot.capacity < 8 ||
            slot.kind > bytes_kind || slot.length > slot.capacity)
            throw not_a_list();
    }
}

ShareableList ShareableList::attach(const std::string& name) { return ShareableList(SharedMemory(name)); }

std::size_t ShareableList::position(std::ptrdiff_t index) const {
    auto n = static_cast<std::ptrdiff_t>(count_);
    std::ptrdiff_t i = index < 0 ? index + n : index;
    if (i < 0 || i >= n) throw std::out_of_range("ShareableList index " + std::to_string(index) + " out of range");
    return static_cast<std::size_t>(i);
}

namespace {
void check_not_closed(std::span<const std::byte> buf) {
    if (buf.empty()) throw std::invalid_argument("ShareableList: its shared memory is closed");
}
}  // namespace

ShareableList::Item ShareableList::get(std::ptrdiff_t index) const {
    std::size_t i = position(index);
    std::span<std::byte> buf = shm_.buf();
    check_not_closed(buf);
    Slot slot = read_slot(buf, i);
    const std::byte* data = buf.data() + slot.offset;
    std::size_t length = std::min<std::size_t>(slot.length, slot.capacity);
    switch (slot.kind) {
        case int_kind: {
            std::int64_t v;
            std::memcpy(&v, data, sizeof v);
            return v;
        }
        case float_kind: {
            double v;
            std::memcpy(&v, data, sizeof v);
            return v;
        }
        case bool_kind: return std::to_integer<int>(data[0]) != 0;
        case str_kind: return std::string(reinterpret_cast<const char*>(data), length);
        case bytes_kind: return Bytes(data, data + length);
        default: return std::monostate{};
    }
}

void ShareableList::set(std::ptrdiff_t index, Item value) const {
    std::size_t i = position(index);
    std::span<std::byte> buf = shm_.buf();
    check_not_closed(buf);
    Slot slot = read_slot(buf, i);
    if (encoded_size(value) > slot.capacity)
        throw std::invalid_argument("ShareableList: bytes/str item exceeds available storage (item " + std::to_string(i) +
                                    " holds at most " + std::to_string(slot.capacity) + " bytes)");
    write_item(buf, i, slot, value);
}

std::size_t ShareableList::count(const Item& value) const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count_; ++i) n += get(static_cast<std::ptrdiff_t>(i)) == value ? 1 : 0;
    return n;
}

std::size_t ShareableList::index(const Item& value) const {
    for (std::size_t i = 0; i < count_; ++i)
        if (get(static_cast<std::ptrdiff_t>(i)) == value) return i;
    throw std::invalid_argument("ShareableList.index(value): value not in list");
}

std::string ShareableList::format() const {
    std::span<std::byte> buf = shm_.buf();
    check_not_closed(buf);
    std::string out;
    for (std::size_t i = 0; i < count_; ++i) {
        Slot slot = read_slot(buf, i);
        switch (slot.kind) {
            case int_kind: out += "q"; break;
            case float_kind: out += "d"; break;
            case bool_kind: out += "xxxxxxx?"; break;
            case str_kind:
            case bytes_kind: out += std::to_string(slot.capacity) + "s"; break;
            default: out += "xxxxxx?x"; break;
        }
    }
    return out;
}

}  // namespace nogil::multiprocessing::shared_memory
