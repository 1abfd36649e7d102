#pragma once

// Forward declaration of pqxx::connection so storage headers need not pull in <pqxx/pqxx>.
// In libpqxx 6.4 `pqxx::connection` is an alias of `basic_connection_base<connect_direct>`
// (see /usr/include/pqxx/connection.hxx); repeating the alias for the same type is legal, and
// connection_pool.cpp includes both this header and <pqxx/connection> so a mismatch after a
// libpqxx upgrade fails to compile instead of silently diverging.
namespace pqxx {
class connect_direct;
template <typename connect_policy>
class basic_connection_base;
using connection = basic_connection_base<connect_direct>;
} // namespace pqxx
