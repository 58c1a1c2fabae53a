#include "messages.hpp"

#include <climits>
#include <stdexcept>
#include <unistd.h>

namespace nogil::mpi::detail {

std::string mpi_error_string(int code) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
    return std::string(text, static_cast<std::size_t>(length));
}

void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) throw MpiError(std::string(what) + " failed: " + mpi_error_string(rc));
}

std::optional<Message> receive(MPI_Comm comm, int source) {
    int flag = 0;
    MPI_Message handle = MPI_MESSAGE_NULL;
    MPI_Status status;
    check(MPI_Improbe(source, MPI_ANY_TAG, comm, &flag, &handle, &status), "MPI_Improbe");
    if (!flag) return std::nullopt;
    int count = 0;
    check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
    Message m{status.MPI_SOURCE, status.MPI_TAG, std::string(static_cast<std::size_t>(count), '\0')};
    check(MPI_Mrecv(m.bytes.data(), count, MPI_BYTE, &handle, MPI_STATUS_IGNORE), "MPI_Mrecv");
    return m;
}

bool message_waiting(MPI_Comm comm, int source) {
    // Twice: Open MPI's probe first looks among the messages it has already taken in, and only when
    // it finds none there does it progress the transports, which takes in what has arrived since
    // but does not match it: a message sent before the first probe is seen by the second.
    for (int probe = 0; probe < 2; ++probe) {
        int flag = 0;
        check(MPI_Iprobe(source, MPI_ANY_TAG, comm, &flag, MPI_STATUS_IGNORE), "MPI_Iprobe");
        if (flag) return true;
    }
    return false;
}

Outbox::~Outbox() {
    for (auto& s : sending_)
        if (s.request != MPI_REQUEST_NULL) MPI_Request_free(&s.request);
}

void Outbox::send(std::string bytes, int dest, int tag, MPI_Comm comm) {
    if (bytes.size() > static_cast<std::size_t>(INT_MAX))
        throw std::length_error("nogil::mpi: a message above 2 GiB (" + std::to_string(bytes.size()) + " bytes)");
    auto& s = sending_.emplace_back(Sending{std::move(bytes), MPI_REQUEST_NULL});
    int rc = MPI_Isend(s.bytes.data(), static_cast<int>(s.bytes.size()), MPI_BYTE, dest, tag, comm, &s.request);
    if (rc != MPI_SUCCESS) {
        sending_.pop_back();
        check(rc, "MPI_Isend");
    }
}

bool Outbox::test() {
    bool any = false;
    for (auto it = sending_.begin(); it != sending_.end();) {
        int done = 0;
        check(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE), "MPI_Test");
        if (done) {
            it = sending_.erase(it);
            any = true;
        } else {
            ++it;
        }
    }
    return any;
}

void Outbox::flush() {
    for (auto& s : sending_) check(MPI_Wait(&s.request, MPI_STATUS_IGNORE), "MPI_Wait");
    sending_.clear();
}

std::string describe_rank(MPI_Comm comm) {
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    char host[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    MPI_Get_processor_name(host, &length);
    return "MPI worker rank " + std::to_string(rank) + " on " + std::string(host, static_cast<std::size_t>(length)) +
           " (pid " + std::to_string(::getpid()) + ")";
}

}  // namespace nogil::mpi::detail
