// Catch2's main, compiled once in its own translation unit and shared by every test binary.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
