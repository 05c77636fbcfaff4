// duplex — included by the Asio glue before any of Asio's headers. Asio's config reads the
// standard library's feature macros once per translation unit (whether aligned_alloc exists,
// which decides how Asio allocates and frees its per-thread memory), and those are defined
// only once a standard header has been included: a unit that included Asio first would use
// ::operator new where another uses aligned_alloc, and free one's blocks with the other's
// deallocator. A standard header first keeps every unit that includes duplex first alike.
// Internal.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
