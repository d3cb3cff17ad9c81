use app::InfraError;
use app::ports::{EventPublisher, OutboxEvent};
use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

pub const EVENT_SOURCE: &str = "expert-matching.payments";

/// Publishes outbox events to an EventBridge bus. The deterministic `eventId` is inside
/// each event's detail, so consumers can drop a republished event.
#[derive(Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus: String,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    /// Creates the bus (local stack and tests; production gets it from the template).
    pub async fn create_bus(client: &Client, bus: &str) -> Result<(), InfraError> {
        match client.create_event_bus().name(bus).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(InfraError::new("could not create the event bus", e)),
        }
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[OutboxEvent]) -> Result<Vec<u64>, InfraError> {
        let mut published = Vec::new();
        // PutEvents takes at most 10 entries.
        for chunk in events.chunks(10) {
            let entries: Vec<PutEventsRequestEntry> = chunk
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(EVENT_SOURCE)
                        .detail_type(&e.detail_type)
                        .detail(&e.detail)
                        .build()
                })
                .collect();
            let output = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| InfraError::new("could not publish events to EventBridge", e))?;
            for (event, result) in chunk.iter().zip(output.entries()) {
                if result.error_code().is_none() {
                    published.push(event.id);
                } else {
                    tracing::warn!(event_id = %event.event_id, code = ?result.error_code(), "EventBridge refused an event");
                }
            }
        }
        Ok(published)
    }
}
