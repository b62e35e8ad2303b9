//! Kubernetes API objects as the API's JSON writes them, narrowed to the
//! fields the core reads.
//!
//! The core used k8s-openapi's full types. Their deserializers (PodSpec,
//! Volume, PodStatus, ContainerStatus, Affinity...) were a third of the
//! component's code and its biggest functions, and the size of the biggest
//! function sets how much memory and time wazero's compile takes (issue 11's
//! profile). These types read only what `objects` trims objects to.
//!
//! Fields are read as k8s-openapi read them, so that what is readable did
//! not change: every field may be absent or null (required ones then take
//! their zero value, as k8s-openapi's did), a key given twice keeps its
//! last value, unknown keys are skipped unread, an array where an object
//! belongs is refused, and a kind's `apiVersion` and `kind`, optional
//! (objects from informers have none), must be the kind's wherever they
//! appear. A value of the wrong type in a field read is an error naming
//! what was expected.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// A string, borrowed from the JSON unless it holds escapes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Text<'a>(Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Strings;

        impl<'de> Visitor<'de> for Strings {
            type Value = Text<'de>;

            // As String's, so that problems read as they did.
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }

        d.deserialize_str(Strings)
    }
}

/// A timestamp of which only its presence is read. Any string will do:
/// k8s-openapi also parsed it, but the host only ever writes a valid one
/// (Go's metav1.Time), and a parser is code the core would not use.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp;

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Strings;

        impl Visitor<'_> for Strings {
            type Value = Timestamp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a timestamp string")
            }

            fn visit_str<E>(self, _: &str) -> Result<Timestamp, E> {
                Ok(Timestamp)
            }
        }

        d.deserialize_str(Strings)
    }
}

/// A type read from a JSON object, one key at a time.
trait Fields<'de>: Default {
    /// What an error says was expected instead (k8s-openapi's type name).
    const NAME: &'static str;

    /// Reads the value of `key` into `self`; the value of a key not read
    /// is skipped.
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

struct Object<T>(PhantomData<T>);

impl<'de, T: Fields<'de>> Visitor<'de> for Object<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::NAME)
    }

    // No visit_seq: an array is not an object (serde's derive would read
    // one field by position).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut value = T::default();
        while let Some(key) = map.next_key::<Text>()? {
            value.read(&key, &mut map)?;
        }
        Ok(value)
    }
}

fn object<'de, D: Deserializer<'de>, T: Fields<'de>>(d: D) -> Result<T, D::Error> {
    d.deserialize_struct(T::NAME, &[], Object(PhantomData))
}

/// Reads an `apiVersion` or a `kind`, which must be `want`.
fn expect<'de, A: MapAccess<'de>>(map: &mut A, want: &'static str) -> Result<(), A::Error> {
    let got: Text = map.next_value()?;
    if &*got != want {
        return Err(de::Error::invalid_value(de::Unexpected::Str(&got), &want));
    }
    Ok(())
}

/// Declares a struct read from a JSON object: each field is an `Option`
/// of the type given, read from the key given. `checks API KIND` makes it
/// a top-level kind whose `apiVersion` and `kind` are checked.
macro_rules! narrow {
    (
        $(#[$doc:meta])*
        struct $name:ident $(<$a:lifetime>)? as $expected:literal $(checks $api_version:literal $kind:literal)? {
            $($(#[$field_doc:meta])* $field:ident: $ty:ty = $key:literal,)*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Default, Clone)]
        pub struct $name $(<$a>)? {
            $($(#[$field_doc])* pub $field: Option<$ty>,)*
        }

        impl<'de $(: $a, $a)?> Fields<'de> for $name $(<$a>)? {
            const NAME: &'static str = $expected;

            fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
                match key {
                    $($key => self.$field = map.next_value()?,)*
                    $("apiVersion" => expect(map, $api_version)?,
                    "kind" => expect(map, $kind)?,)?
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(())
            }
        }

        impl<'de $(: $a, $a)?> Deserialize<'de> for $name $(<$a>)? {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                object(d)
            }
        }
    };
}

narrow! {
    /// The metadata DNS reads (the host trims the rest away).
    struct ObjectMeta<'a> as "ObjectMeta" {
        name: Text<'a> = "name",
        namespace: Text<'a> = "namespace",
        /// Owned: label selectors read them as a map of strings.
        labels: BTreeMap<String, String> = "labels",
        resource_version: Text<'a> = "resourceVersion",
        deletion_timestamp: Timestamp = "deletionTimestamp",
    }
}

narrow! {
    struct Namespace<'a> as "Namespace" checks "v1" "Namespace" {
        metadata: ObjectMeta<'a> = "metadata",
    }
}

narrow! {
    struct Service<'a> as "Service" checks "v1" "Service" {
        metadata: ObjectMeta<'a> = "metadata",
        spec: ServiceSpec<'a> = "spec",
        status: ServiceStatus<'a> = "status",
    }
}

narrow! {
    struct ServiceSpec<'a> as "ServiceSpec" {
        type_: Text<'a> = "type",
        cluster_ip: Text<'a> = "clusterIP",
        cluster_ips: Vec<Text<'a>> = "clusterIPs",
        external_name: Text<'a> = "externalName",
        external_ips: Vec<Text<'a>> = "externalIPs",
        ports: Vec<ServicePort<'a>> = "ports",
    }
}

narrow! {
    struct ServicePort<'a> as "ServicePort" {
        name: Text<'a> = "name",
        /// Required by the API; 0 when absent, as k8s-openapi read it.
        port: i32 = "port",
        protocol: Text<'a> = "protocol",
    }
}

narrow! {
    struct ServiceStatus<'a> as "ServiceStatus" {
        load_balancer: LoadBalancerStatus<'a> = "loadBalancer",
    }
}

narrow! {
    struct LoadBalancerStatus<'a> as "LoadBalancerStatus" {
        ingress: Vec<LoadBalancerIngress<'a>> = "ingress",
    }
}

narrow! {
    struct LoadBalancerIngress<'a> as "LoadBalancerIngress" {
        ip: Text<'a> = "ip",
        hostname: Text<'a> = "hostname",
    }
}

narrow! {
    struct EndpointSlice<'a> as "EndpointSlice" checks "discovery.k8s.io/v1" "EndpointSlice" {
        metadata: ObjectMeta<'a> = "metadata",
        address_type: Text<'a> = "addressType",
        endpoints: Vec<Endpoint<'a>> = "endpoints",
        ports: Vec<EndpointPort<'a>> = "ports",
    }
}

narrow! {
    struct Endpoint<'a> as "Endpoint" {
        addresses: Vec<Text<'a>> = "addresses",
        conditions: EndpointConditions = "conditions",
        hostname: Text<'a> = "hostname",
        target_ref: ObjectReference<'a> = "targetRef",
        zone: Text<'a> = "zone",
    }
}

narrow! {
    struct EndpointConditions as "EndpointConditions" {
        /// Absent means ready: the API reads an unknown state as ready.
        ready: bool = "ready",
    }
}

narrow! {
    struct ObjectReference<'a> as "ObjectReference" {
        name: Text<'a> = "name",
    }
}

narrow! {
    struct EndpointPort<'a> as "EndpointPort" {
        name: Text<'a> = "name",
        port: i32 = "port",
        protocol: Text<'a> = "protocol",
    }
}

narrow! {
    struct Pod<'a> as "Pod" checks "v1" "Pod" {
        metadata: ObjectMeta<'a> = "metadata",
        status: PodStatus<'a> = "status",
    }
}

narrow! {
    struct PodStatus<'a> as "PodStatus" {
        phase: Text<'a> = "phase",
        pod_ips: Vec<PodIp<'a>> = "podIPs",
    }
}

narrow! {
    struct PodIp<'a> as "PodIP" {
        /// Required by the API; empty when absent, as k8s-openapi read it.
        ip: Text<'a> = "ip",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn absent_and_null_fields_are_none() {
        for json in [
            r#"{}"#,
            r#"{"metadata":null,"spec":null,"status":null}"#,
            r#"{"metadata":{},"spec":{},"status":{"loadBalancer":{}}}"#,
        ] {
            let svc: Service = read(json).unwrap();
            let spec = svc.spec.unwrap_or_default();
            assert!(spec.type_.is_none() && spec.cluster_ip.is_none() && spec.ports.is_none(), "{json}");
            let meta = svc.metadata.unwrap_or_default();
            assert!(meta.name.is_none() && meta.labels.is_none() && meta.deletion_timestamp.is_none(), "{json}");
        }
        let port: ServicePort = read(r#"{"name":"http","port":null}"#).unwrap();
        assert_eq!((port.name.as_deref(), port.port, port.protocol), (Some("http"), None, None));
        let ip: PodIp = read(r#"{}"#).unwrap();
        assert!(ip.ip.is_none());
        let endpoint: Endpoint = read(r#"{"addresses":null,"conditions":{"ready":null}}"#).unwrap();
        assert!(endpoint.addresses.is_none() && endpoint.conditions.unwrap().ready.is_none());
    }

    #[test]
    fn fields_are_read() {
        let slice: EndpointSlice = read(
            r#"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
                "metadata":{"name":"web-x","namespace":"shop","resourceVersion":"9","labels":{"a":"1"}},
                "addressType":"IPv4","ports":[{"name":"http","port":80,"protocol":"TCP"}],
                "endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":false},"hostname":"h",
                              "targetRef":{"kind":"Pod","name":"p"},"zone":"z"}]}"#,
        )
        .unwrap();
        let meta = slice.metadata.unwrap();
        assert_eq!((meta.name.as_deref(), meta.namespace.as_deref()), (Some("web-x"), Some("shop")));
        assert_eq!(meta.resource_version.as_deref(), Some("9"));
        assert_eq!(meta.labels.unwrap()["a"], "1");
        assert_eq!(slice.address_type.as_deref(), Some("IPv4"));
        let port = &slice.ports.unwrap()[0];
        assert_eq!((port.name.as_deref(), port.port, port.protocol.as_deref()), (Some("http"), Some(80), Some("TCP")));
        let endpoint = &slice.endpoints.unwrap()[0];
        assert_eq!(endpoint.addresses.as_deref(), Some(&[Text("10.0.0.1".into())][..]));
        assert_eq!(endpoint.conditions.as_ref().unwrap().ready, Some(false));
        assert_eq!(endpoint.target_ref.as_ref().unwrap().name.as_deref(), Some("p"));
        assert_eq!((endpoint.hostname.as_deref(), endpoint.zone.as_deref()), (Some("h"), Some("z")));

        let pod: Pod = read(
            r#"{"metadata":{"name":"p","deletionTimestamp":"2026-01-01T00:00:00Z"},
                "status":{"phase":"Running","podIPs":[{"ip":"10.1.0.1"}]}}"#,
        )
        .unwrap();
        assert!(pod.metadata.unwrap().deletion_timestamp.is_some());
        let status = pod.status.unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.pod_ips.unwrap()[0].ip.as_deref(), Some("10.1.0.1"));
    }

    /// Fields DNS does not read are skipped whatever they hold, unlike the
    /// full types, which checked their types too.
    #[test]
    fn unknown_fields_are_skipped() {
        let svc: Service = read(
            r#"{"metadata":{"name":"web","uid":7,"annotations":{"x":[1,{"y":null}]},"creationTimestamp":"never"},
                "spec":{"selector":{"app":"web"},"ports":[{"port":80,"targetPort":"http","nodePort":"x"}],"ipFamilies":5},
                "extra":[true]}"#,
        )
        .unwrap();
        assert_eq!(svc.metadata.unwrap().name.as_deref(), Some("web"));
        assert_eq!(svc.spec.unwrap().ports.unwrap()[0].port, Some(80));
        let pod: Pod = read(r#"{"spec":{"volumes":[{"name":"v","emptyDir":{}}]},"status":{"hostIP":1}}"#).unwrap();
        assert!(pod.status.unwrap().pod_ips.is_none());
    }

    /// k8s-openapi kept the last of a key given twice; so do these.
    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let ns: Namespace = read(r#"{"metadata":{"name":"a"},"metadata":{"name":"b","name":"c"}}"#).unwrap();
        assert_eq!(ns.metadata.unwrap().name.as_deref(), Some("c"));
    }

    #[test]
    fn escaped_strings_are_read() {
        let ns: Namespace = read(r#"{"metadata":{"name":"a\u0062\n"}}"#).unwrap();
        assert_eq!(ns.metadata.unwrap().name.as_deref(), Some("ab\n"));
    }

    #[test]
    fn api_version_and_kind_are_checked_where_given() {
        let cases: &[(&str, Result<(), &str>)] = &[
            (r#"{"apiVersion":"v1","kind":"Service"}"#, Ok(())),
            (r#"{"kind":"Service"}"#, Ok(())),
            (r#"{"apiVersion":"v2"}"#, Err(r#"invalid value: string "v2", expected v1"#)),
            (r#"{"kind":"Pod"}"#, Err(r#"invalid value: string "Pod", expected Service"#)),
            (r#"{"kind":"Service","kind":"Pod"}"#, Err(r#"invalid value: string "Pod", expected Service"#)),
            (r#"{"apiVersion":null}"#, Err("invalid type: null, expected a string")),
            (r#"{"kind":5}"#, Err("invalid type: integer `5`, expected a string")),
        ];
        for (json, want) in cases {
            match (read::<Service>(json), want) {
                (Ok(_), Ok(())) => {}
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{json}: {got}"),
                (got, _) => panic!("{json}: {got:?}, want {want:?}"),
            }
        }
        let slice = r#"{"apiVersion":"v1","kind":"EndpointSlice"}"#;
        assert!(read::<EndpointSlice>(slice).unwrap_err().contains("expected discovery.k8s.io/v1"));
        // Nested objects carry no kind of their own to check.
        assert!(read::<EndpointSlice>(r#"{"endpoints":[{"targetRef":{"apiVersion":"v1","kind":"Pod"}}]}"#).is_ok());
    }

    #[test]
    fn wrong_types_are_errors() {
        let cases: &[(&str, &str)] = &[
            (r#"{"metadata":{"name":5}}"#, "invalid type: integer `5`, expected a string"),
            (r#"{"metadata":{"labels":["a"]}}"#, "invalid type: sequence, expected a map"),
            (r#"{"metadata":{"labels":{"a":1}}}"#, "invalid type: integer `1`, expected a string"),
            (r#"{"metadata":{"deletionTimestamp":true}}"#, "invalid type: boolean `true`, expected a timestamp string"),
            (r#"{"metadata":[]}"#, "invalid type: sequence, expected ObjectMeta"),
            (r#"{"spec":"x"}"#, r#"invalid type: string "x", expected ServiceSpec"#),
            (r#"{"spec":{"ports":{}}}"#, "invalid type: map, expected a sequence"),
            (r#"{"spec":{"ports":[{"port":"80"}]}}"#, r#"invalid type: string "80", expected i32"#),
            (r#"{"spec":{"ports":[{"port":1e3}]}}"#, "invalid type: floating point `1000.0`, expected i32"),
            (r#"{"spec":{"ports":[{"port":4294967296}]}}"#, "invalid value: integer `4294967296`, expected i32"),
            (r#"{"spec":{"ports":[["x",80]]}}"#, "invalid type: sequence, expected ServicePort"),
            (r#"{"status":{"loadBalancer":{"ingress":[{"ip":[]}]}}}"#, "invalid type: sequence, expected a string"),
            ("[]", "invalid type: sequence, expected Service"),
            ("5", "invalid type: integer `5`, expected Service"),
            ("{", "EOF while parsing an object"),
        ];
        for (json, want) in cases {
            let got = read::<Service>(json).unwrap_err();
            assert!(got.starts_with(want), "{json}: {got}");
        }
        let slice = r#"{"endpoints":[{"conditions":{"ready":"yes"}}]}"#;
        assert!(
            read::<EndpointSlice>(slice).unwrap_err().starts_with(r#"invalid type: string "yes", expected a boolean"#)
        );
        let pod = r#"{"status":{"podIPs":["10.0.0.1"]}}"#;
        assert!(read::<Pod>(pod).unwrap_err().starts_with(r#"invalid type: string "10.0.0.1", expected PodIP"#));
    }
}
