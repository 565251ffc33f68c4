/*
Copyright 2026 The treue authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package period parses ISO 8601 durations ("P14D", "P36M", "P1Y6M", "PT12H") and
// adds them to instants with calendar meaning: P1M after 31 January is the last day
// of February, in the program's time zone. It imports only the standard library.
package period
