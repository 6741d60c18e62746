"""Routes: ``/api/v1/notification-channels/…`` and ``/api/v1/notification-deliveries/`` (config/urls.py)."""

from __future__ import annotations

from django.urls import path

from notifications.api import views

channel_urlpatterns = [
    path("", views.ChannelListApi.as_view(), name="notification-channel-list"),
    path("<str:channel>/", views.ChannelDetailApi.as_view(), name="notification-channel-detail"),
    path("<str:channel>/test/", views.ChannelTestApi.as_view(), name="notification-channel-test"),
]

delivery_urlpatterns = [
    path("", views.DeliveryListApi.as_view(), name="notification-delivery-list"),
]
