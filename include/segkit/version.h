#pragma once
namespace segkit {
const char* version_string();
}
